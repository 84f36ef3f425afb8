// A horizontal bar chart as SVG, rendered to PNG by @resvg/resvg-js (a prebuilt native package
// from npm that works here; the bench installs it under bench/.cache on first use). Text uses
// the system's DejaVu Sans, which Debian installs with fontconfig.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface BarChart {
  title: string;
  bars: { label: string; value: number }[];
}

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function barChartSvg(chart: BarChart): string {
  const width = 900;
  const left = 230;
  const barHeight = 34;
  const gap = 14;
  const top = 56;
  const height = top + chart.bars.length * (barHeight + gap) + 20;
  const max = Math.max(...chart.bars.map((b) => b.value), 1);
  const scale = (width - left - 90) / max;
  const colours = ["#8c8c8c", "#2f6db5", "#3f9e5b", "#d08a2c"];
  const rows = chart.bars.map((b, i) => {
    const y = top + i * (barHeight + gap);
    const w = Math.max(1, b.value * scale);
    return [
      `<text x="${left - 10}" y="${y + barHeight / 2 + 5}" text-anchor="end" font-size="15">${xmlText(b.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colours[i % colours.length]}"/>`,
      `<text x="${(left + w + 8).toFixed(1)}" y="${y + barHeight / 2 + 5}" font-size="15">${b.value.toFixed(1)}</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="32" font-size="18" font-weight="bold">${xmlText(chart.title)}</text>`,
    ...rows,
    "</svg>",
  ].join("\n");
}

/** Renders `chart` to a PNG file with the resvg package found at `resvgDir`. */
export async function renderBarChart(resvgDir: string, pngPath: string, chart: BarChart): Promise<void> {
  const { Resvg } = (await import(join(resvgDir, "index.js"))) as {
    Resvg: new (svg: string, o: object) => { render(): { asPng(): Uint8Array } };
  };
  const png = new Resvg(barChartSvg(chart), {
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  })
    .render()
    .asPng();
  writeFileSync(pngPath, png);
}
