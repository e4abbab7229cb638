/**
 * `studio` command line: one entry, each command in its own module under ./commands, loaded only when
 * used so `studio decode` never pays for TensorFlow.js start-up.
 */
import { StudioError } from '../../preload/contract.ts';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  serve: () => import('./commands/serve.ts'),
  decode: () => import('./commands/decode.ts'),
  analyze: () => import('./commands/analyze.ts'),
  doctor: () => import('./commands/doctor.ts'),
  train: () => import('./commands/train.ts'),
  plan: () => import('./commands/plan.ts'),
  adapt: () => import('./commands/adapt.ts'),
  evaluate: () => import('./commands/evaluate.ts'),
  appearance: () => import('./commands/appearance.ts'),
  compare: () => import('./commands/compare.ts'),
  export: () => import('./commands/export.ts'),
};

async function help(): Promise<string> {
  const lines = ['Attention Studio: where a lesion detector looks, and why.', '', 'Usage: studio <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const summary = await load().then((m) => m.command.summary, () => '(unavailable in this build)');
    lines.push(`  ${name.padEnd(10)} ${summary}`);
  }
  lines.push('', 'Run `studio <command> --help` for a command\'s options.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await help()}\n`);
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`studio: unknown command '${name}'. Run \`studio --help\`.\n`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const message = err instanceof StudioError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`studio ${name}: ${message}\n`);
    return 1;
  }
}
