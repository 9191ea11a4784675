/**
 * A wake-up flag for one waiting loop: `notify` wakes the current `wait`, or the next one when
 * nobody waits (so a notification between a check and a wait is never lost).
 */
export class Signal {
  private waiter: (() => void) | undefined;
  private pending = false;

  notify(): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.pending = true;
      return;
    }
    this.waiter = undefined;
    waiter();
  }

  /**
   * Resolves at the next notification, or after `timeoutMs` when given (a timed-out wait leaves
   * no timer and does not consume a later notification).
   */
  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    if (timeoutMs === undefined) {
      return new Promise((resolve) => {
        this.waiter = resolve;
      });
    }
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        if (this.waiter === wake) this.waiter = undefined;
        resolve();
      };
      this.waiter = wake;
      const timer = setTimeout(wake, timeoutMs);
    });
  }
}
