import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The XDG autostart entry's path (Linux desktops start what is listed there at login). */
export function autostartFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'autostart', 'tessera.desktop');
}

/** Quotes an Exec argument as the Desktop Entry spec asks (double quotes; `"`, `` ` ``, `$`, `\` escaped). */
function quoteExec(arg: string): string {
  return `"${arg.replace(/(["`$\\])/g, '\\$1')}"`;
}

/**
 * Start on login for Linux, where Electron's setLoginItemSettings does nothing: writes or
 * removes ~/.config/autostart/tessera.desktop. `exec` is the program to start (the AppImage
 * file when running from one, else the executable); it starts hidden in the tray.
 */
export function applyLinuxAutostart(enabled: boolean, exec: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = autostartFile(env);
  if (!enabled) {
    rmSync(file, { force: true });
    return file;
  }
  mkdirSync(join(file, '..'), { recursive: true });
  const entry = [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Tessera',
    'Comment=Provide compute to the Tessera market',
    `Exec=${quoteExec(exec)} --hidden`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
  writeFileSync(file, entry, { mode: 0o644 });
  return file;
}
