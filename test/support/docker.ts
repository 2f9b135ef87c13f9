import Docker from 'dockerode';

/** Why Docker cannot be used here, or undefined when a daemon answers within 2 s. */
export async function dockerUnavailableReason(): Promise<string | undefined> {
  try {
    await Promise.race([
      new Docker().ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref()),
    ]);
    return undefined;
  } catch (error) {
    return `no Docker daemon answers (${error instanceof Error ? error.message : String(error)})`;
  }
}
