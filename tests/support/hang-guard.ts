/**
 * `work`'s outcome, or an Error naming the hang once `ms` pass first: a test of "this ends" fails
 * with a sentence instead of waiting out its own timeout (the window is generous, not a speed claim).
 */
export async function endsWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer nor error in ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}
