import { useEffect, useMemo, useRef, useState } from 'react';
import type { LogLine } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { CopyButton, Empty, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { useCall, useEvent } from '../hooks/use-call.js';
import { absoluteTime } from '../lib/format.js';
import { atLeast, LEVELS, logsAsText, matchesSearch, type Level } from '../lib/logs.js';

const KEEP = 2000;

export function LogsScreen() {
  const recent = useCall(() => call('logs:recent', { limit: 500 }));
  const [live, setLive] = useState<LogLine[]>([]);
  const [level, setLevel] = useState<Level>('info');
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => setLive([]), [recent.data]);
  useEvent('log:line', (l) => setLive((x) => (x.length >= KEEP ? [...x.slice(-KEEP + 1), l] : [...x, l])));
  const lines = useMemo(
    () =>
      [...(recent.data ?? []), ...live].filter((l) => atLeast(l.level, level) && matchesSearch(l, search)).slice(-KEEP),
    [recent.data, live, level, search],
  );
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);
  return (
    <>
      <ScreenHeader
        title="Logs"
        lead="What the node has been doing — jobs, the GPU, the market connection — newest at the bottom."
      />
      <div className="card">
        <div className="filters">
          <div className="field inline">
            <label htmlFor="log-level">Level</label>
            <select id="log-level" value={level} onChange={(e) => setLevel(e.target.value as Level)}>
              {LEVELS.map((l) => (
                <option key={l} value={l}>
                  {l === 'debug' ? 'Everything (debug)' : `${l[0]?.toUpperCase()}${l.slice(1)} and above`}
                </option>
              ))}
            </select>
          </div>
          <div className="field inline grow">
            <label htmlFor="log-search">Search</label>
            <input
              id="log-search"
              type="search"
              value={search}
              placeholder="job, gpu, error…"
              onChange={(e) => setSearch(e.target.value)}
            />
          </div>
          <label className="check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow new lines
          </label>
          <p className="filters-count muted num" aria-live="polite">
            {lines.length} {lines.length === 1 ? 'line' : 'lines'}
          </p>
          <span className="copy-group">
            <CopyButton text={logsAsText(lines, absoluteTime)} label="Copy lines" />
          </span>
        </div>
        <ErrorLine message={recent.error} onRetry={recent.reload} />
        {recent.loading && !recent.data ? (
          <Loading />
        ) : lines.length === 0 ? (
          <Empty title={search ? 'No log lines match this search' : 'No log lines at this level'}>
            {search ? 'Try other words, or clear the search.' : 'Lower the level to see more.'}
          </Empty>
        ) : (
          <div className="logbox" ref={box} tabIndex={0} role="log" aria-label="Log lines">
            {lines.map((l, i) => (
              <div key={i} className={`logline log-${l.level}`}>
                <time className="log-time num" dateTime={new Date(l.time).toISOString()}>
                  {absoluteTime(l.time).slice(11)}
                </time>
                <span className="log-level">{l.level}</span>
                <span className="log-module">{l.module ?? ''}</span>
                <span className="log-msg">
                  {l.msg}
                  {Object.keys(l.fields).length > 0 && <span className="log-fields"> {JSON.stringify(l.fields)}</span>}
                </span>
              </div>
            ))}
          </div>
        )}
      </div>
    </>
  );
}
