import { useEffect, useRef, useState, type ReactNode } from 'react';
import { absoluteTime, creditsDecimal, formatCredits, relativeTime } from '../lib/format.js';
import { useNow } from '../hooks/use-call.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { creditUnit, unitExplanation } from '../lib/earnings.js';

/**
 * Credits as "0.012345 CPC" (tabular digits), or "0.012345 practice credits" while the node is on
 * the practice market (they are not money), the unit explained on hover; `testId` goes on the
 * number alone ("0.012345").
 */
export function Credits({
  micro,
  testId,
  signed,
  practice,
  bare,
}: {
  micro: string | bigint | null | undefined;
  testId?: string;
  signed?: boolean;
  /** Whose credits: the practice market's (default: the market the node is on now). */
  practice?: boolean;
  /** The number alone (a table whose header names the unit). */
  bare?: boolean;
}) {
  const { status } = useNodeStatus();
  const isPractice = practice ?? status?.market?.kind === 'practice';
  if ((micro === null || micro === undefined) && !testId) return <span className="credits muted">—</span>;
  const text = testId ? (micro === null || micro === undefined ? '—' : creditsDecimal(micro)) : formatCredits(micro);
  const plus = signed && micro !== null && micro !== undefined && BigInt(micro) > 0n ? '+' : '';
  return (
    <span className="credits num">
      {plus}
      <span data-testid={testId}>{text}</span>
      {!bare && (
        <>
          {' '}
          <abbr className="unit" title={unitExplanation(isPractice)}>
            {creditUnit(isPractice)}
          </abbr>
        </>
      )}
    </span>
  );
}

/** "2 min ago", with the absolute local time on hover. */
export function RelTime({ at }: { at: number | null | undefined }) {
  const now = useNow(10_000);
  if (at === null || at === undefined) return <span className="muted">—</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={absoluteTime(at)}>
      {relativeTime(at, Math.max(now, Date.now()))}
    </time>
  );
}

/** A call's error: one line, announced. */
export function ErrorLine({ message, onRetry }: { message: string | null | undefined; onRetry?: () => void }) {
  if (!message) return null;
  return (
    <div className="alert" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <p className="muted">{children}</p>}
    </div>
  );
}

/** A titled panel; `labelledBy` makes it a named region. */
export function Card({
  title,
  children,
  actions,
  className,
  id,
  region,
}: {
  title?: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
  className?: string;
  id?: string;
  region?: boolean;
}) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section
      className={`card ${className ?? ''}`}
      aria-labelledby={region !== false && title && headingId ? headingId : undefined}
      id={id}
    >
      {(title || actions) && (
        <div className="card-head">
          {title && <h2 id={headingId}>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

/** The screen's header: its one h1, a line under it, and actions on the right. */
export function ScreenHeader({ title, lead, actions }: { title: string; lead?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="screen-head">
      <div>
        <h1 tabIndex={-1}>{title}</h1>
        {lead && <p className="lead">{lead}</p>}
      </div>
      {actions && <div className="screen-actions">{actions}</div>}
    </div>
  );
}

export function ProgressBar({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** Copies `text`; says "Copied" for a moment. Falls back to selecting a hidden field where the clipboard API is refused. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const copy = async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      const area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.className = 'visually-hidden';
      document.body.appendChild(area);
      area.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
      area.remove();
    }
    setDone(ok ? 'copied' : 'failed');
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => setDone(null), 2000);
  };
  return (
    <>
      <button type="button" className="btn btn-small" onClick={() => void copy()} disabled={text === ''}>
        {label}
      </button>
      <span className="copy-note" aria-live="polite">
        {done === 'copied' ? 'Copied' : done === 'failed' ? 'Copy failed: select the text and copy it' : ''}
      </span>
    </>
  );
}

/** A green/red dot with a word for screen readers. */
export function Dot({ tone, label }: { tone: 'good' | 'bad' | 'busy' | 'idle' | 'warn' | 'info'; label?: string }) {
  return (
    <span
      className={`dot dot-${tone}`}
      role={label ? 'img' : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
    />
  );
}

/** A small key/value list (definition list). */
export function Facts({ items }: { items: readonly [ReactNode, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([k, v], i) => (
        <div key={i} className="fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
