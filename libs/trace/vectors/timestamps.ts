// GitLab Runner 19.4's timestamper table tests, as data (commit: gitlab-runner-commit.ts), from
// common/buildlogger/internal/timestamper/timestamper_test.go. Each vector is a list of writes to
// one stream, then Close (runmesh: `end`), and the exact bytes GitLab Runner writes.
//
// Not ported: TestWithoutTimestamp (GitLab Runner 19.4 builds the timestamper only when
// timestamps are on, build_logger.go, and runmesh writes no header at all with them off), and
// TestWithTimestamps' time zones (runmesh formats epoch time in UTC and never reads local time).

export interface TimestampVector {
  goTest: string;
  streamId: number;
  type: "O" | "E";
  writes: string[];
  /** Close twice (TestCloseIdempotent). */
  closeTwice?: boolean;
  /** What `now()` returns on each read, epoch ms (fractional for µs). */
  clock: { startIso: string; stepMs: number } | { readsIso: string[] };
  expected: string[];
}

const FILE = "common/buildlogger/internal/timestamper/timestamper_test.go";
/** setupDummyTime: from 2021-01-01T00:00:00.020010Z, one hour later on every read. */
const HOURLY = { startIso: "2021-01-01T00:00:00.020010Z", stepMs: 3_600_000 };
const BUF_SIZE = 8 * 1024;

/** writeLines(w) of the Go tests. */
const WRITE_LINES = [
  "PREFIX This is the beginning of a new line\n",
  "PREFIX This is a split ",
  "up ",
  "line\n",
  "PREFIX Progress bar: ",
  ...Array.from({ length: 10 }, () => ".\r"),
  "Done.\r\n",
  "PREFIX Another windows new-line\r\n",
  "PREFIX multiple\nnew\nlines\nin\none\n",
  "\nstart",
  "\nend\n",
  "PREFIX Eat carriages\r\r\r\r\r\r\r\n",
  "PREFIX This is across\ntwo lines\n",
  "PREFIX The end",
];

export const TIMESTAMP_VECTORS: TimestampVector[] = [
  {
    goTest: `${FILE} TestWithTimestamps`,
    streamId: 255,
    type: "E",
    writes: WRITE_LINES,
    clock: HOURLY,
    expected: [
      "2021-01-01T01:00:00.020010Z ffE PREFIX This is the beginning of a new line\n",
      "2021-01-01T02:00:00.020010Z ffE PREFIX This is a split up line\n",
      "2021-01-01T03:00:00.020010Z ffE PREFIX Progress bar: .\r\n",
      "2021-01-01T04:00:00.020010Z ffE+.\r\n",
      "2021-01-01T05:00:00.020010Z ffE+.\r\n",
      "2021-01-01T06:00:00.020010Z ffE+.\r\n",
      "2021-01-01T07:00:00.020010Z ffE+.\r\n",
      "2021-01-01T08:00:00.020010Z ffE+.\r\n",
      "2021-01-01T09:00:00.020010Z ffE+.\r\n",
      "2021-01-01T10:00:00.020010Z ffE+.\r\n",
      "2021-01-01T11:00:00.020010Z ffE+.\r\n",
      "2021-01-01T12:00:00.020010Z ffE+.\r\n",
      "2021-01-01T13:00:00.020010Z ffE+Done.\r\n",
      "2021-01-01T14:00:00.020010Z ffE PREFIX Another windows new-line\r\n",
      "2021-01-01T15:00:00.020010Z ffE PREFIX multiple\n",
      "2021-01-01T16:00:00.020010Z ffE new\n",
      "2021-01-01T17:00:00.020010Z ffE lines\n",
      "2021-01-01T18:00:00.020010Z ffE in\n",
      "2021-01-01T19:00:00.020010Z ffE one\n",
      "2021-01-01T20:00:00.020010Z ffE \n",
      "2021-01-01T21:00:00.020010Z ffE start\n",
      "2021-01-01T22:00:00.020010Z ffE end\n",
      "2021-01-01T23:00:00.020010Z ffE PREFIX Eat carriages\r\r\r\r\r\r\r\n",
      "2021-01-02T00:00:00.020010Z ffE PREFIX This is across\n",
      "2021-01-02T01:00:00.020010Z ffE two lines\n",
      "2021-01-02T02:00:00.020010Z ffE PREFIX The end\n",
    ],
  },
  {
    goTest: `${FILE} TestForcedFlush`,
    streamId: 255,
    type: "E",
    writes: [
      "PREFIX This is the beginning of a new line\n",
      "We have no new line character in this write",
      "... The line is now flushed.\n",
      "large continuous write incoming",
      ".".repeat(BUF_SIZE),
      ".".repeat(BUF_SIZE + 1),
      "ended\n",
    ],
    clock: HOURLY,
    expected: [
      "2021-01-01T01:00:00.020010Z ffE PREFIX This is the beginning of a new line\n",
      "2021-01-01T02:00:00.020010Z ffE We have no new line character in this write... The line is now flushed.\n",
      `2021-01-01T03:00:00.020010Z ffE large continuous write incoming${".".repeat(BUF_SIZE)}\n`,
      `2021-01-01T04:00:00.020010Z ffE+${".".repeat(BUF_SIZE + 1)}\n`,
      "2021-01-01T05:00:00.020010Z ffE+ended\n",
    ],
  },
  {
    goTest: `${FILE} TestCarriageReturnDoesNotSplitWrite`,
    streamId: 1,
    type: "O",
    writes: ["section_start:123:foo\r\x1b[0K", "section_end:123:foo\r\x1b[0K"],
    clock: HOURLY,
    expected: [
      "2021-01-01T01:00:00.020010Z 01O section_start:123:foo\r\x1b[0K\n",
      "2021-01-01T02:00:00.020010Z 01O+section_end:123:foo\r\x1b[0K\n",
    ],
  },
  {
    goTest: `${FILE} TestCloseIdempotent`,
    streamId: 255,
    type: "E",
    writes: ["no trailing newline"],
    closeTwice: true,
    clock: HOURLY,
    expected: ["2021-01-01T01:00:00.020010Z ffE no trailing newline\n"],
  },
  {
    goTest: `${FILE} TestTimestampSecondsCache`,
    streamId: 1,
    type: "E",
    writes: ["line\n", "line\n", "line\n", "line\n", "line\n"],
    clock: {
      readsIso: [
        "2021-06-15T12:34:56.000000Z",
        "2021-06-15T12:34:56.000001Z",
        "2021-06-15T12:34:56.000123Z",
        "2021-06-15T12:34:57.000000Z",
        "2021-06-15T12:34:57.000007Z",
      ],
    },
    expected: [
      "2021-06-15T12:34:56.000000Z 01E line\n",
      "2021-06-15T12:34:56.000001Z 01E line\n",
      "2021-06-15T12:34:56.000123Z 01E line\n",
      "2021-06-15T12:34:57.000000Z 01E line\n",
      "2021-06-15T12:34:57.000007Z 01E line\n",
    ],
  },
];
