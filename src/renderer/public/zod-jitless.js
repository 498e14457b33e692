// Runs before the app's modules: the page's CSP has no 'unsafe-eval', so zod must not probe
// `new Function` when the first schema is built (that probe is reported as a CSP violation).
// zod reads its global config from this property (zod v4 core: globalThis.__zod_globalConfig).
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });
