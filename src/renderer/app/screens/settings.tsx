import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { Settings } from '../../../shared/contract.js';
import { call, isDesktop } from '../api/client.js';
import { Card, CopyButton, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { notificationsAllowed, SETTINGS_SAVED_EVENT } from '../hooks/notifications.js';
import { errorMessage, useCall, useNow } from '../hooks/use-call.js';
import { clockTime } from '../lib/status.js';
import {
  DAY_NAMES,
  describeWeekSchedule,
  toForm,
  validateSettings,
  type SettingsErrors,
  type SettingsForm,
} from '../lib/settings-form.js';
import { MARKET_FIELD_HINT, MARKET_FIELD_LABEL, marketFieldRows } from '../lib/market-field.js';

/** Unsaved changes survive leaving the screen: they are here again on return, marked as unsaved. */
let draft: SettingsForm | null = null;

/** Whether the form differs from the saved settings (the timed pause is not part of the form's changes). */
function isDirty(form: SettingsForm | null, saved: Settings | null): boolean {
  if (!form || !saved) return false;
  const a = { ...form, paused_until: null };
  const b = { ...toForm(saved), paused_until: null };
  return JSON.stringify(a) !== JSON.stringify(b);
}

/** Days of the week to provide on (Monday first), as toggle buttons. */
function DayPicker({ days, onChange }: { days: number[]; onChange: (d: number[]) => void }) {
  return (
    <div className="days-grid" role="group" aria-label="Days">
      {[1, 2, 3, 4, 5, 6, 0].map((d) => (
        <label key={d} className={`hour ${days.includes(d) ? 'on' : ''}`}>
          <input
            type="checkbox"
            id={d === 1 ? 's-schedule_days' : undefined}
            checked={days.includes(d)}
            onChange={(e) =>
              onChange(e.target.checked ? [...days, d].sort((a, b) => a - b) : days.filter((x) => x !== d))
            }
          />
          <span>{DAY_NAMES[d]}</span>
        </label>
      ))}
    </div>
  );
}

/** "Pause for 1 hour" and, while such a pause runs, when it ends and "Resume now". */
function TimedPause({ saved, onSaved }: { saved: Settings; onSaved: (s: Settings) => void }) {
  const now = useNow(10_000);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const until =
    saved.paused_until !== null && saved.paused_until > Math.max(now, Date.now()) ? saved.paused_until : null;
  const apply = async (paused_until: number | null) => {
    setBusy(true);
    setError(null);
    try {
      onSaved(await call('settings:set', { paused_until }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="timed-pause">
      {until === null ? (
        <button
          type="button"
          className="btn btn-small"
          disabled={busy}
          onClick={() => void apply(Date.now() + 3_600_000)}
        >
          Pause for 1 hour
        </button>
      ) : (
        <>
          <span role="status">Paused until {clockTime(until)}.</span>
          <button type="button" className="btn btn-small" disabled={busy} onClick={() => void apply(null)}>
            Resume now
          </button>
        </>
      )}
      <ErrorLine message={error} />
    </div>
  );
}

function Toggle({
  id,
  label,
  checked,
  onChange,
  hint,
  disabled,
}: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  hint?: ReactNode;
  disabled?: boolean;
}) {
  return (
    <div className="toggle-field">
      <input
        id={id}
        type="checkbox"
        className="switch"
        checked={checked}
        onChange={(e) => onChange(e.target.checked)}
        disabled={disabled}
        aria-describedby={hint ? `${id}-hint` : undefined}
      />
      <div>
        <label htmlFor={id}>{label}</label>
        {hint && (
          <p className="hint" id={`${id}-hint`}>
            {hint}
          </p>
        )}
      </div>
    </div>
  );
}

function TextField({
  id,
  label,
  value,
  onChange,
  error,
  hint,
  placeholder,
  inputMode,
  rows,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  hint: string;
  placeholder?: string;
  inputMode?: 'url' | 'numeric' | 'decimal';
  /** Several lines (a textarea) of this many rows. */
  rows?: number;
}) {
  const common = {
    id,
    value,
    inputMode,
    placeholder,
    'aria-invalid': error !== undefined,
    'aria-describedby': `${id}-help`,
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {rows === undefined ? (
        <input {...common} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <textarea
          {...common}
          rows={rows}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      <p className={error ? 'field-error' : 'hint'} id={`${id}-help`}>
        {error ?? hint}
      </p>
    </div>
  );
}

export function SettingsScreen() {
  const loaded = useCall(() => call('settings:get'));
  const info = useCall(() => call('node:info'));
  const app = useCall(() => call('app:info'));
  const [savedSettings, setSavedSettings] = useState<Settings | null>(null);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [restored, setRestored] = useState(false);
  const [notifyNote, setNotifyNote] = useState<string | null>(null);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const desktop = isDesktop();
  useEffect(() => {
    if (!loaded.data) return;
    setSavedSettings(loaded.data);
    setForm((f) => {
      if (f) return f; // a reload after a reconnect keeps what is being typed
      if (draft) {
        setRestored(true);
        return { ...draft, paused_until: loaded.data?.paused_until ?? null };
      }
      return toForm(loaded.data as Settings);
    });
  }, [loaded.data]);
  const dirty = isDirty(form, savedSettings);
  useEffect(() => {
    if (!form || !savedSettings) return; // not loaded yet: a draft from before waits for the form
    draft = dirty ? form : null;
  }, [dirty, form, savedSettings]);
  useEffect(() => {
    if (!dirty) return;
    // Closing the tab or window with unsaved changes asks first.
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);
  const onPauseSaved = (s: Settings) => {
    setSavedSettings(s);
    setForm((f) => (f ? { ...f, paused_until: s.paused_until } : f));
  };
  const setNotifications = async (on: boolean) => {
    set('notifications', on);
    setNotifyNote(null);
    if (!on) return;
    if (typeof Notification === 'undefined') {
      setNotifyNote('This browser cannot show notifications.');
      return;
    }
    const permission =
      Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    if (permission !== 'granted')
      setNotifyNote('Notifications are blocked for this page: allow them in the browser’s site settings, then save.');
  };

  const set = <K extends keyof SettingsForm>(k: K, v: SettingsForm[K]) => {
    setForm((f) => (f ? { ...f, [k]: v } : f));
    setErrors((e) => ({ ...e, [k]: undefined }));
    setSaved(false);
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    const v = validateSettings(form);
    setErrors(v.errors);
    if (!v.patch) {
      const first = Object.keys(v.errors)[0];
      if (first) document.getElementById(`s-${first}`)?.focus();
      return;
    }
    setSaving(true);
    setError(null);
    try {
      const next = await call('settings:set', v.patch);
      draft = null;
      setSavedSettings(next);
      setForm(toForm(next));
      setRestored(false);
      setSaved(true);
      window.dispatchEvent(new Event(SETTINGS_SAVED_EVENT));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  };
  const desktopOnly = desktop ? undefined : 'Desktop app only: has no effect in headless mode (tessera headless).';

  return (
    <>
      <ScreenHeader title="Settings" lead="Where and when this machine works. Changes apply when you save." />
      <ErrorLine message={loaded.error} onRetry={loaded.reload} />
      {!form ? (
        loaded.loading ? (
          <Loading />
        ) : null
      ) : (
        <form onSubmit={(e) => void save(e)} noValidate className="settings">
          <div className="grid-2">
            <Card title="Market and work" id="s-market">
              <TextField
                id="s-market_url"
                label={MARKET_FIELD_LABEL}
                value={form.market_url}
                onChange={(v) => set('market_url', v)}
                error={errors.market_url}
                hint={`${MARKET_FIELD_HINT} Used when you join a market; courier flushes go to the first. Empty: none.`}
                placeholder={'https://market.example.org\nhttps://market-2.example.org'}
                inputMode="url"
                rows={marketFieldRows(form.market_url)}
              />
              <TextField
                id="s-threads"
                label="Worker threads"
                value={form.threads}
                onChange={(v) => set('threads', v)}
                error={errors.threads}
                hint="CPU threads for hashing jobs, 1 to 1024. Empty: automatic."
                placeholder="automatic"
                inputMode="numeric"
              />
              <TextField
                id="s-ask"
                label="Lowest offer to take (CPC per job)"
                value={form.ask}
                onChange={(v) => set('ask', v)}
                error={errors.ask}
                hint="Jobs offering less go to other providers. Empty: take every offer (it never rises by itself)."
                placeholder="every offer"
                inputMode="decimal"
              />
              <Toggle
                id="s-gpu_enabled"
                label="Use the GPU"
                checked={form.gpu_enabled}
                onChange={(v) => set('gpu_enabled', v)}
                hint="Take GPU jobs when a hardware GPU is usable."
              />
            </Card>
            <Card title="When to provide" id="s-when">
              <Toggle
                id="s-idle_only"
                label="Only when this computer is idle"
                checked={form.idle_only}
                onChange={(v) => set('idle_only', v)}
                hint={
                  desktop
                    ? 'Pauses while you use the keyboard or mouse.'
                    : 'Headless mode cannot see keyboard use: use the schedule below instead.'
                }
              />
              <Toggle
                id="s-pause_on_battery"
                label="Pause on battery"
                checked={form.pause_on_battery}
                onChange={(v) => set('pause_on_battery', v)}
                hint="Stops taking jobs while unplugged."
              />
              <div className="toggle-field">
                <div>
                  <p className="label-like">Take a break</p>
                  <p className="hint">Stops taking jobs now and starts again by itself an hour later.</p>
                  {savedSettings && <TimedPause saved={savedSettings} onSaved={onPauseSaved} />}
                </div>
              </div>
              <fieldset className="hours" aria-describedby="s-hours-help">
                <legend>Schedule (days and hours when providing is allowed)</legend>
                <DayPicker days={form.schedule_days} onChange={(d) => set('schedule_days', d)} />
                <div className="hours-grid">
                  {Array.from({ length: 24 }, (_, h) => (
                    <label key={h} className={`hour ${form.schedule_hours.includes(h) ? 'on' : ''}`}>
                      <input
                        type="checkbox"
                        id={h === 0 ? 's-schedule_hours' : undefined}
                        checked={form.schedule_hours.includes(h)}
                        onChange={(e) =>
                          set(
                            'schedule_hours',
                            e.target.checked
                              ? [...form.schedule_hours, h].sort((a, b) => a - b)
                              : form.schedule_hours.filter((x) => x !== h),
                          )
                        }
                      />
                      <span>{String(h).padStart(2, '0')}</span>
                    </label>
                  ))}
                </div>
                <p className={errors.schedule_hours || errors.schedule_days ? 'field-error' : 'hint'} id="s-hours-help">
                  {errors.schedule_hours ??
                    errors.schedule_days ??
                    (form.schedule_hours.length === 0 && form.schedule_days.length === 0
                      ? 'Nothing ticked: provides on any day, at any hour. Tick days or hours to limit it (local time).'
                      : `Provides ${describeWeekSchedule(form.schedule_hours, form.schedule_days)} (local time), paused outside. Hours past midnight belong to the day they start on.`)}
                </p>
                <button
                  type="button"
                  className="btn btn-small btn-ghost"
                  onClick={() => {
                    set('schedule_hours', []);
                    set('schedule_days', []);
                  }}
                >
                  Clear schedule
                </button>
              </fieldset>
            </Card>
            <Card title="Notifications and window" id="s-desktop">
              <Toggle
                id="s-notifications"
                label="Notify me"
                checked={form.notifications}
                onChange={(v) => void setNotifications(v)}
                hint={
                  notifyNote ??
                  (form.notifications && !notificationsAllowed() && typeof Notification !== 'undefined'
                    ? 'Allow notifications for this page when the browser asks.'
                    : 'When the node stops earning for 10 minutes, hits an error, or a settlement is done.')
                }
              />
              <Toggle
                id="s-close_to_tray"
                label="Keep running in the tray when the window closes"
                checked={form.close_to_tray}
                onChange={(v) => set('close_to_tray', v)}
                hint={desktopOnly}
              />
              <Toggle
                id="s-start_on_login"
                label="Start on login"
                checked={form.start_on_login}
                onChange={(v) => set('start_on_login', v)}
                hint={desktopOnly}
              />
            </Card>
            <Card title="About" id="s-data">
              <p data-testid="app-version">
                {app.data ? `${app.data.name} ${app.data.version}` : 'Tessera'}
                <span className="muted">
                  {app.data ? ` · ${app.data.platform}` : ''}
                  {info.data ? (info.data.headless ? ' · headless' : ' · desktop app') : ''}
                </span>
              </p>
              <p className="muted">
                Data folder: Keys, ledger, settings and logs.{' '}
                {desktop ? '' : 'On the machine running tessera headless.'}
              </p>
              <div className="address-row">
                <code className="address">{info.data?.data_dir ?? '…'}</code>
                <CopyButton text={info.data?.data_dir ?? ''} label="Copy folder path" />
              </div>
            </Card>
          </div>
          <div className="savebar">
            <button type="submit" className="btn btn-primary" disabled={saving}>
              {saving ? 'Saving…' : 'Save settings'}
            </button>
            <button
              type="button"
              className="btn btn-ghost"
              disabled={!dirty}
              onClick={() => {
                if (!savedSettings) return;
                draft = null;
                setForm(toForm(savedSettings));
                setErrors({});
                setSaved(false);
                setRestored(false);
              }}
            >
              Discard changes
            </button>
            {dirty && (
              <span className="warn-text" data-testid="unsaved">
                {restored ? 'Unsaved changes from before are still here.' : 'Unsaved changes.'}
              </span>
            )}
            <span className="ok-text" role="status" aria-label="Save result">
              {saved ? 'Saved.' : ''}
            </span>
            {Object.keys(errors).some((k) => errors[k as keyof SettingsErrors]) && (
              <span className="bad-text">Fix the fields marked in red, then save again.</span>
            )}
          </div>
          <ErrorLine message={error} />
        </form>
      )}
    </>
  );
}
