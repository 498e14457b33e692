import type { CapabilitiesFrame, MarketFrame } from '../../shared/market-protocol.js';

/** A connected, authenticated provider as the validator sees it (the socket layer implements it). */
export interface ProviderSession {
  readonly id: string;
  readonly address: string;
  readonly publicKey: string;
  capabilities: CapabilitiesFrame | undefined;
  /** Jobs sent to this socket and not yet answered. */
  readonly inFlight: Set<string>;
  /**
   * True while the socket's send buffer is above the soft limit (the provider is not reading) or
   * the socket is closing: no job is leased to it, and a job frame it is sent is returned as lost.
   */
  readonly congested: boolean;
  send(frame: MarketFrame): void;
  close(code: number, reason: string): void;
}
