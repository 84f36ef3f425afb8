import { expect, test } from "bun:test";
import { stageKind } from "./stage-kind.ts";

test.each([
  ["prepare_script", "user"],
  ["get_sources", "predefined"],
  ["clear_worktree", "predefined"],
  ["restore_cache", "predefined"],
  ["download_artifacts", "predefined"],
  ["step_script", "user"],
  ["step_release", "user"],
  ["after_script", "user"],
  ["archive_cache", "predefined"],
  ["archive_cache_on_failure", "predefined"],
  ["upload_artifacts_on_success", "predefined"],
  ["upload_artifacts_on_failure", "predefined"],
  ["cleanup_file_variables", "predefined"],
])("stage %s is a %s stage", (stage, kind) => {
  expect(stageKind(stage)).toBe(kind as "user" | "predefined");
});
