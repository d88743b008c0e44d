// A fingerprint of a directory tree for "nothing was modified" assertions: for every entry its type, mode, size,
// mtime and (for regular files) a SHA-256 of its bytes. Symlinks are recorded by target, not followed.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface EntryFingerprint {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  mtimeNs: string;
  sha256?: string;
  target?: string;
}

/** Fingerprints `root` and everything under it (root itself included, as "."). */
export function snapshotTree(root: string): Record<string, EntryFingerprint> {
  const out: Record<string, EntryFingerprint> = {};
  const visit = (p: string, rel: string): void => {
    const st = fs.lstatSync(p, { bigint: true });
    const base = { mode: Number(st.mode), size: Number(st.size), mtimeNs: st.mtimeNs.toString() };
    if (st.isSymbolicLink()) out[rel] = { type: 'symlink', ...base, target: fs.readlinkSync(p) };
    else if (st.isFile()) out[rel] = { type: 'file', ...base, sha256: createHash('sha256').update(fs.readFileSync(p)).digest('hex') };
    else if (st.isDirectory()) {
      out[rel] = { type: 'dir', ...base };
      for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name), rel === '.' ? name : `${rel}/${name}`);
    } else out[rel] = { type: 'other', ...base };
  };
  visit(root, '.');
  return out;
}
