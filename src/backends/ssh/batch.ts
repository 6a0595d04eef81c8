// Questions asked in the same tick about the same host, answered by one round trip: `sv status` of ten units
// on a host costs one ssh command, not ten.

export class Batcher<Q, A> {
  private pending = new Map<string, { items: Q[]; waiters: { resolve(a: A): void; reject(e: unknown): void }[] }>();

  constructor(private readonly answer: (key: string, items: Q[]) => Promise<A[]>) {}

  ask(key: string, item: Q): Promise<A> {
    let batch = this.pending.get(key);
    if (!batch) {
      batch = { items: [], waiters: [] };
      this.pending.set(key, batch);
      // After the current tick: every caller of this round (observe asks all units at once) joins.
      setTimeout(() => this.flush(key), 0);
    }
    batch.items.push(item);
    return new Promise<A>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  private flush(key: string): void {
    const batch = this.pending.get(key);
    if (!batch) return;
    this.pending.delete(key);
    this.answer(key, batch.items).then(
      (answers) => batch.waiters.forEach((w, i) => w.resolve(answers[i]!)),
      (e) => batch.waiters.forEach((w) => w.reject(e)),
    );
  }
}
