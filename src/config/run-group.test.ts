import { describe, expect, it } from 'vitest';
import { RUN_GROUP_PATTERN, runGroupFromCi } from './run-group.js';

describe('runGroupFromCi', () => {
  it.each([
    ['GitHub Actions: run id and attempt', { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '9876543210', GITHUB_RUN_ATTEMPT: '2' }, 'github:9876543210-2'],
    ['GitHub Actions without an attempt: the first', { GITHUB_RUN_ID: '9876543210' }, 'github:9876543210-1'],
    ['GitLab: the pipeline', { GITLAB_CI: 'true', CI_PIPELINE_ID: '4411', CI_JOB_ID: '90001' }, 'gitlab:4411'],
    ['Buildkite: the build', { BUILDKITE: 'true', BUILDKITE_BUILD_ID: '0190b6a1-7c2e-4f0e-9a51-3f7c2d1e8b40' }, 'buildkite:0190b6a1-7c2e-4f0e-9a51-3f7c2d1e8b40'],
    ['CircleCI: the workflow', { CIRCLECI: 'true', CIRCLE_WORKFLOW_ID: 'b1c2d3e4-0000-4000-8000-000000000001', CIRCLE_BUILD_NUM: '77' }, 'circleci:b1c2d3e4-0000-4000-8000-000000000001'],
    ['Jenkins: the build tag', { JENKINS_URL: 'http://ci/', BUILD_TAG: 'jenkins-e2e-512' }, 'jenkins:jenkins-e2e-512'],
    ['Jenkins job in a folder: / and spaces become -', { BUILD_TAG: 'jenkins-team/web e2e-512' }, 'jenkins:jenkins-team-web-e2e-512'],
    ['Azure Pipelines: the build', { TF_BUILD: 'True', BUILD_BUILDID: '20261202' }, 'azure:20261202'],
    ['GitHub wins over a BUILD_TAG some tool set', { GITHUB_RUN_ID: '5', GITHUB_RUN_ATTEMPT: '1', BUILD_TAG: 'x' }, 'github:5-1'],
    ['blank values are absent', { GITHUB_RUN_ID: '  ', CI_PIPELINE_ID: '' }, undefined],
    ['a local run: no group', { HOME: '/home/me', CI: 'true' }, undefined],
  ] as const)('%s', (_name, env, expected) => {
    expect(runGroupFromCi(env)).toBe(expected);
  });

  it('keeps the end of a value too long (the build number) and stays within the option rule', () => {
    const group = runGroupFromCi({ BUILD_TAG: `jenkins-${'a'.repeat(200)}-77` })!;
    expect(group).toHaveLength(128);
    expect(group.startsWith('jenkins:')).toBe(true);
    expect(group.endsWith('-77')).toBe(true);
    expect(group).toMatch(RUN_GROUP_PATTERN);
  });
});
