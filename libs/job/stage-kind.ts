// Which build stages are the runner's own ("predefined") and which run the user's script, as
// GitLab Runner's common/build.go getPredefinedEnv decides: container executors run predefined
// stages in the helper image and user stages in the job's image. Pure.
import type { StageKind } from "../executors/executor.ts";

const PREDEFINED = new Set([
  "get_sources",
  "clear_worktree",
  "restore_cache",
  "download_artifacts",
  "archive_cache",
  "archive_cache_on_failure",
  "upload_artifacts_on_success",
  "upload_artifacts_on_failure",
  "cleanup_file_variables",
]);

/** `predefined` for the runner's stages; `user` for prepare_script, step_*, after_script and any other. */
export function stageKind(stage: string): StageKind {
  return PREDEFINED.has(stage) ? "predefined" : "user";
}
