/**
 * Bounded waiting on the emulator's state: a probe is re-run whenever the state changes and the
 * wait resolves with the probe's first non-undefined answer, or rejects after the timeout (or when
 * the emulator stops).
 */
export class Waiters {
  private readonly pending = new Map<() => void, (error: Error) => void>();

  /** Re-runs every pending probe; call after any change to the recorded state. */
  notify(): void {
    for (const check of [...this.pending.keys()]) check();
  }

  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    let first: T | undefined;
    try {
      first = probe();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.pending.delete(check);
      };
      const check = (): void => {
        let value: T | undefined;
        try {
          value = probe();
        } catch (error) {
          finish();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          finish();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`Discord emulator: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.pending.set(check, (error) => {
        finish();
        reject(error);
      });
    });
  }

  /** Rejects every pending wait (the emulator is stopping). */
  cancelAll(reason: string): void {
    for (const cancel of [...this.pending.values()]) cancel(new Error(`Discord emulator: ${reason}`));
  }
}
