/** The --out file of `report` and `sql`: never replaced silently (convert and rerank refuse too). */
import { existsSync } from 'node:fs';
import { UserError } from '../runtime/errors.js';

export const OVERWRITE_OPTION = { type: 'boolean', default: false, describe: 'Replace the --out file when it exists' } as const;

export function refuseExisting(file: string, overwrite: boolean): void {
  if (existsSync(file) && !overwrite) throw new UserError(`--out ${file} exists; pass --overwrite to replace it`);
}
