import type { NodeStatusInfo, StartupInfo, StartupPhase } from '../../shared/contract.js';

/** How far the start of the practice market is: a step in words (null before the first) and a share (0…1) where known. */
export interface PracticeStartProgress {
  step: string | null;
  progress: number | null;
}

/** What the node's startup phase is derived from (AppService's own state). */
export interface StartupInputs {
  /** Set while the practice market the node joins is starting. */
  startingPractice: PracticeStartProgress | null;
  joined: boolean;
  paused: boolean;
  /** The provider's connection state ('idle' without a provider). */
  state: NodeStatusInfo['state'];
}

/** The phase and its words: starting the practice market → connecting → joined (or idle). */
export function startupOf(i: StartupInputs): Omit<StartupInfo, 'since'> {
  if (i.startingPractice)
    return { phase: 'starting_practice', step: i.startingPractice.step, progress: i.startingPractice.progress };
  if (!i.joined) return { phase: 'idle', step: null, progress: null };
  if (i.paused || i.state === 'connected') return { phase: 'joined', step: null, progress: null };
  const step =
    i.state === 'authenticating'
      ? 'Signing in to the market'
      : i.state === 'disconnected' || i.state === 'closed'
        ? 'Reconnecting to the market'
        : 'Connecting to the market';
  return { phase: 'connecting', step, progress: null };
}

/** Remembers when the phase last changed, so a status can say since when the node has been in it. */
export class StartupClock {
  private phase: StartupPhase | null = null;
  private since = 0;

  constructor(private readonly now: () => number) {}

  stamp(info: Omit<StartupInfo, 'since'>): StartupInfo {
    if (info.phase !== this.phase) {
      this.phase = info.phase;
      this.since = this.now();
    }
    return { ...info, since: this.since };
  }
}
