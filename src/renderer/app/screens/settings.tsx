import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { call, isDesktop } from '../api/client.js';
import { Card, CopyButton, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { errorMessage, useCall } from '../hooks/use-call.js';
import {
  describeSchedule,
  toForm,
  validateSettings,
  type SettingsErrors,
  type SettingsForm,
} from '../lib/settings-form.js';

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
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  hint: string;
  placeholder?: string;
  inputMode?: 'url' | 'numeric' | 'decimal';
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={value}
        inputMode={inputMode}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error !== undefined}
        aria-describedby={`${id}-help`}
      />
      <p className={error ? 'field-error' : 'hint'} id={`${id}-help`}>
        {error ?? hint}
      </p>
    </div>
  );
}

export function SettingsScreen() {
  const loaded = useCall(() => call('settings:get'));
  const info = useCall(() => call('node:info'));
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const desktop = isDesktop();
  useEffect(() => {
    if (loaded.data) setForm(toForm(loaded.data));
  }, [loaded.data]);

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
      setForm(toForm(await call('settings:set', v.patch)));
      setSaved(true);
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
                label="Market URL"
                value={form.market_url}
                onChange={(v) => set('market_url', v)}
                error={errors.market_url}
                hint="Used when you join a market and for courier flushes. Empty: none."
                placeholder="https://market.example.org"
                inputMode="url"
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
              <fieldset className="hours" aria-describedby="s-hours-help">
                <legend>Schedule (hours when providing is allowed)</legend>
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
                <p className={errors.schedule_hours ? 'field-error' : 'hint'} id="s-hours-help">
                  {errors.schedule_hours ??
                    (form.schedule_hours.length === 0
                      ? 'None ticked: provides at any hour. Tick hours to limit it (local time).'
                      : `Provides ${describeSchedule(form.schedule_hours)} (local time), paused outside.`)}
                </p>
                <button type="button" className="btn btn-small btn-ghost" onClick={() => set('schedule_hours', [])}>
                  Clear schedule
                </button>
              </fieldset>
            </Card>
            <Card title="Desktop" id="s-desktop">
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
            <Card title="Data folder" id="s-data">
              <p className="muted">
                Keys, ledger, settings and logs. {desktop ? '' : 'On the machine running tessera headless.'}
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
              onClick={() => loaded.data && (setForm(toForm(loaded.data)), setErrors({}), setSaved(false))}
            >
              Discard changes
            </button>
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
