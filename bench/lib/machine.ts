/**
 * Facts about the machine and the code under test, stored with every result file.
 */
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { brokerVersions } from '../brokers/launch.js';
import { repoRoot } from './repo.js';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
  versions: Record<string, string>;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    versions: brokerVersions(),
  };
}

/** Short commit id of the repository, with "-dirty" when tracked files differ from it. */
export function gitCommit(): string {
  try {
    const cwd = repoRoot();
    const id = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' }).trim();
    return dirty ? `${id}-dirty` : id;
  } catch {
    return 'nogit';
  }
}
