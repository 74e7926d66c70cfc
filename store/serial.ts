/**
 * Runs async jobs one at a time, in order. A DuckDB connection runs one statement at a time,
 * and a transaction must not interleave with another job's statements on that connection.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    // the chain continues whether or not this job fails
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }

  /** Resolves once every job queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
