/** The screens, in navigation order: hash route and the name used for the link and the h1. */
export const ROUTES = [
  { id: 'dashboard', name: 'Dashboard' },
  { id: 'join', name: 'Join' },
  { id: 'jobs', name: 'Jobs' },
  { id: 'courier', name: 'Courier' },
  { id: 'settlement', name: 'Settlement' },
  { id: 'diagnostics', name: 'Diagnostics' },
  { id: 'settings', name: 'Settings' },
  { id: 'logs', name: 'Logs' },
] as const;

export type RouteId = (typeof ROUTES)[number]['id'];

/** The route of a location hash ("#/jobs" → "jobs"); null when it names no screen. */
export function parseHash(hash: string): RouteId | null {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return ROUTES.some((r) => r.id === id) ? (id as RouteId) : null;
}

/** The screen to open first: the dashboard when joined, else Join. */
export function startRoute(joined: boolean): RouteId {
  return joined ? 'dashboard' : 'join';
}
