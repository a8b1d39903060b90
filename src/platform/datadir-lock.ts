/**
 * One process per embedded data directory. PGlite has no postmaster to refuse a second server, so two
 * `npm start` on one DATA_DIR would each open their own copy of the files and drift apart (a fixture
 * written through one is missing in the other). The lock is a file in the directory holding the
 * owner's pid, created atomically (O_EXCL); a lock whose pid is no longer alive (the owner was
 * SIGKILLed or the machine rebooted) is taken over.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'esoz-core.lock';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another esoz-core process (pid ${pid}): stop that one, or start this one with another DATA_DIR (if no such process runs, delete ${lockPath})`,
    );
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** Locks this process holds: a second runtime in the same process on the same directory is refused too. */
const heldHere = new Set<string>();

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = path.resolve(dataDir, LOCK_FILE);
  if (heldHere.has(lockPath)) throw new DataDirLockedError(dataDir, process.pid, lockPath);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return held(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(lockPath);
    // A lock file caught between its creation and its pid being written reads as empty: give the owner a moment.
    if (holder === undefined && attempt < 2) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      continue;
    }
    // Our own pid in a lock we do not hold is a previous life's (containers reuse small pids after a restart).
    if (holder !== undefined && holder !== process.pid && alive(holder)) throw new DataDirLockedError(dataDir, holder, lockPath);
    // Stale: move it aside under a name of our own. Of several processes taking over at once only one
    // rename finds the file; if what we moved is not the stale lock we judged (a contender already
    // replaced it), put it back and look again.
    const aside = `${lockPath}.${process.pid}.stale`;
    try {
      renameSync(lockPath, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (readPid(aside) !== holder) {
      try {
        linkSync(aside, lockPath);
      } catch {
        // another contender holds the lock now; the retry reads it
      }
    }
    unlinkSync(aside);
  }
  const holder = readPid(lockPath);
  throw new DataDirLockedError(dataDir, holder ?? 0, lockPath);
}

function held(lockPath: string): DataDirLock {
  heldHere.add(lockPath);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(lockPath);
    process.off('exit', release);
    // only our own lock: never remove one a successor took over
    if (readPid(lockPath) === process.pid) {
      try {
        unlinkSync(lockPath);
      } catch {
        // already gone
      }
    }
  };
  // Whatever way the process ends short of SIGKILL, the lock goes with it.
  process.on('exit', release);
  return { path: lockPath, release };
}
