import type { TestCase, TestResult } from '@playwright/test/reporter';

/*
 * Just enough of Playwright's TestCase and TestResult for the reporter's hooks: the fields it reads, with the
 * shapes Playwright gives them (titlePath starts with the root '', then project and file).
 */

export interface FakeTestInput {
  title: string;
  project?: string;
  file?: string;
  describe?: string[];
  timeout?: number;
  annotations?: Array<{ type: string; description?: string }>;
}

export function fakeTest(input: FakeTestInput): TestCase {
  const project = input.project ?? 'chromium';
  const file = input.file ?? '/repo/tests/shop.spec.ts';
  const path = ['', project, 'tests/shop.spec.ts', ...(input.describe ?? []), input.title];
  return {
    id: `id-${input.title}`,
    title: input.title,
    titlePath: () => path,
    location: { file, line: 7, column: 3 },
    timeout: input.timeout ?? 30_000,
    annotations: input.annotations ?? [],
    parent: { project: () => ({ name: project }) },
  } as unknown as TestCase;
}

export function fakeResult(input: Partial<TestResult> = {}): TestResult {
  return {
    retry: 0,
    status: 'passed',
    duration: 1_234,
    annotations: [],
    attachments: [],
    ...input,
  } as unknown as TestResult;
}
