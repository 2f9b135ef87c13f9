/*
 * A run group names the shards of one CI build: every `playwright test --shard=i/n` of one pipeline run gets the
 * same group, so their pool reports can be merged into one and never with another build's.
 */

/** Letters, digits and `_ . : -`, starting with a letter or digit, at most 128 characters. */
export const RUN_GROUP_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
/** What RUN_GROUP_PATTERN allows, for messages. */
export const RUN_GROUP_RULE = 'must be 1-128 letters, digits, _ . : - (start with a letter or digit)';

/** The CI systems whose build id becomes the default run group, in the order they are looked for. */
const CI_BUILD_IDS: ReadonlyArray<{ ci: string; from: (env: NodeJS.ProcessEnv) => string | undefined }> = [
  // A re-run of a GitHub workflow keeps its run id and counts attempts: each attempt is its own group.
  { ci: 'github', from: (env) => (present(env.GITHUB_RUN_ID) ? `${present(env.GITHUB_RUN_ID)}-${present(env.GITHUB_RUN_ATTEMPT) ?? '1'}` : undefined) },
  { ci: 'gitlab', from: (env) => present(env.CI_PIPELINE_ID) },
  { ci: 'buildkite', from: (env) => present(env.BUILDKITE_BUILD_ID) },
  { ci: 'circleci', from: (env) => present(env.CIRCLE_WORKFLOW_ID) },
  { ci: 'azure', from: (env) => present(env.BUILD_BUILDID) },
  // Last: BUILD_TAG is `jenkins-<job>-<number>`, and other tools set a variable of that name too.
  { ci: 'jenkins', from: (env) => present(env.BUILD_TAG) },
];

/**
 * The run group the CI environment implies: `github:<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>`, `gitlab:<CI_PIPELINE_ID>`,
 * `buildkite:<BUILDKITE_BUILD_ID>`, `circleci:<CIRCLE_WORKFLOW_ID>`, `azure:<BUILD_BUILDID>` or `jenkins:<BUILD_TAG>`;
 * undefined outside CI (a local run has no group). Characters RUN_GROUP_PATTERN does not allow (a Jenkins job in
 * a folder: `jenkins-team/e2e-12`) become `-`, and a value too long keeps its end (where the build number is),
 * so the result always passes the option's own check.
 */
export function runGroupFromCi(env: NodeJS.ProcessEnv): string | undefined {
  for (const { ci, from } of CI_BUILD_IDS) {
    const id = from(env);
    if (id === undefined) continue;
    const safe = id.replace(/[^a-zA-Z0-9_.:-]/g, '-');
    const room = 128 - ci.length - 1;
    return `${ci}:${safe.length > room ? safe.slice(-room) : safe}`;
  }
  return undefined;
}

function present(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
