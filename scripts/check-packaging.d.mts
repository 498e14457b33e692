/** Problems with electron-builder.yml, one line each; empty when it is sound. `outDir` null: skip the build output. */
export function checkPackaging(outDir?: string | null): string[];

/** The Electron fuses the packaged app must have (electron-builder's electronFuses). */
export const REQUIRED_FUSES: {
  runAsNode: false;
  enableNodeOptionsEnvironmentVariable: false;
  enableNodeCliInspectArguments: false;
  enableEmbeddedAsarIntegrityValidation: true;
  onlyLoadAppFromAsar: true;
};

/** electron-builder.yml, parsed (throws when it does not parse). */
export function builderConfig(): {
  asar?: boolean;
  asarUnpack?: string[];
  electronFuses?: Record<string, boolean>;
  [key: string]: unknown;
};
