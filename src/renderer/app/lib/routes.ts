/**
 * The screens, in navigation order: hash route, the name used for the link and the h1, and the
 * group. The everyday screens (earn, status, history, settings) come first; the ones that speak
 * the market's own terms (receipts in transit, settlement modes, raw logs) sit under Advanced.
 */
export const ROUTES = [
  { id: 'dashboard', name: 'Dashboard', group: 'main' },
  { id: 'join', name: 'Join', group: 'main' },
  { id: 'jobs', name: 'Jobs', group: 'main' },
  { id: 'diagnostics', name: 'Diagnostics', group: 'main' },
  { id: 'settings', name: 'Settings', group: 'main' },
  { id: 'courier', name: 'Courier', group: 'advanced' },
  { id: 'settlement', name: 'Settlement', group: 'advanced' },
  { id: 'logs', name: 'Logs', group: 'advanced' },
] as const;

export type RouteId = (typeof ROUTES)[number]['id'];
export type RouteGroup = (typeof ROUTES)[number]['group'];

/** The navigation groups with their routes, in order (the main group has no heading). */
export const NAV_GROUPS: readonly { group: RouteGroup; label: string | null; routes: (typeof ROUTES)[number][] }[] = [
  { group: 'main', label: null, routes: ROUTES.filter((r) => r.group === 'main') },
  { group: 'advanced', label: 'Advanced', routes: ROUTES.filter((r) => r.group === 'advanced') },
];

/** The route of a location hash ("#/jobs" → "jobs"); null when it names no screen. */
export function parseHash(hash: string): RouteId | null {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return ROUTES.some((r) => r.id === id) ? (id as RouteId) : null;
}

/** The screen to open first: the dashboard when joined, else Join. */
export function startRoute(joined: boolean): RouteId {
  return joined ? 'dashboard' : 'join';
}
