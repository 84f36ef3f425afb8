// Where runmesh's ported GitLab Runner vectors come from: gitlab-org/gitlab-runner, read from its
// GitHub mirror gitlabhq/gitlab-runner. No v19.4.0 tag exists in the mirror yet; this is the
// newest main commit (2026-08-22), whose VERSION file says 19.4.0, the release runner-api.md
// follows. Newest tag at that commit: v19.3.0.
export const GITLAB_RUNNER_COMMIT = "d79f3e7b89abceace75e2425bfe92b84ea059933";
export const GITLAB_RUNNER_VERSION = "19.4.0";
