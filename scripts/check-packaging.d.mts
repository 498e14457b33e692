/** Problems with electron-builder.yml, one line each; empty when it is sound. `outDir` null: skip the build output. */
export function checkPackaging(outDir?: string | null): string[];
