/** What a serialised store step does, most urgent first. */
export type StepKind = 'settle' | 'lease' | 'dispatch';

const STEP_URGENCY: Record<StepKind, number> = { settle: 0, lease: 1, dispatch: 2 };

interface Step {
  urgency: number;
  run: () => Promise<void>;
}

/**
 * The store steps of one market instance, run one at a time. A waiting step of a more urgent kind
 * goes first — settling results, then heartbeats, receipt acks and lost leases, then dispatch and
 * the timed sweeps — and steps of one kind keep their order, so results never wait behind a queue
 * of dispatch passes (a busy market kicks one per posted task). Per instance: other instances
 * sharing the store have their own queue, and the store's transactions keep them apart.
 */
export class StepQueue {
  private readonly steps: Step[] = [];
  private stepRunning = false;

  /** Runs `fn` after every earlier serialised step of the same or a more urgent kind; resolves or rejects with it. */
  serial<T>(fn: () => Promise<T>, kind: StepKind = 'dispatch'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.steps.push({
        urgency: STEP_URGENCY[kind],
        run: () =>
          Promise.resolve()
            .then(fn)
            .then(resolve, reject)
            .finally(() => {
              this.stepRunning = false;
              this.nextStep();
            }),
      });
      this.nextStep();
    });
  }

  /**
   * Resolves once every step queued so far has run: the least urgent kind runs last, so an empty
   * step of that kind waits for every one of them.
   */
  drain(): Promise<void> {
    return this.serial(async () => undefined, 'dispatch');
  }

  /** Starts the most urgent waiting step (the earliest of its kind) when none is running. */
  private nextStep(): void {
    if (this.stepRunning || this.steps.length === 0) return;
    let best = 0;
    for (let i = 1; i < this.steps.length; i++)
      if ((this.steps[i] as Step).urgency < (this.steps[best] as Step).urgency) best = i;
    const [step] = this.steps.splice(best, 1);
    this.stepRunning = true;
    void (step as Step).run();
  }
}
