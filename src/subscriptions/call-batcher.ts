/**
 * Gathers calls made close together into one flush, as a database does with commits: the first
 * call waits `windowMs` for company, and calls made while a flush runs go into the next one. Each
 * caller gets the answer for its own item (the flush answers in the order of its items).
 */
export class CallBatcher<Item, Answer> {
  private waiting: { item: Item; resolve: (answer: Answer) => void; reject: (error: unknown) => void }[] = [];
  private timer?: NodeJS.Timeout;
  private flushing = false;

  constructor(
    private readonly flush: (items: Item[]) => Promise<Answer[]>,
    private readonly windowMs: number,
  ) {}

  call(item: Item): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => void this.run(), this.windowMs);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    this.flushing = true;
    try {
      const answers = await this.flush(batch.map((call) => call.item));
      batch.forEach((call, index) => call.resolve(answers[index]));
    } catch (error) {
      for (const call of batch) call.reject(error);
    } finally {
      this.flushing = false;
      if (this.waiting.length > 0) this.schedule();
    }
  }
}
