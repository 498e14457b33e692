import { errorMessage } from '../../core/errors.js';

/** Turns a Node fs error into one line naming the path and what went wrong. */
export function describeFsError(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path}: no such file`;
    case 'EISDIR':
      return `${path} is a directory, not a file`;
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied (check the file's permissions)`;
    case 'ENOTDIR':
      return `${path}: a parent of this path is not a directory`;
    default:
      return `${path}: ${errorMessage(err)}`;
  }
}
