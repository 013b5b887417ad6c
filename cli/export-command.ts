/**
 * `gmel export runs/NAME --out models/NAME`: ONNX model set (one actor per IED + manifest).
 */
import type { Command } from 'commander';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('convert a training run\'s actors to ONNX: models/NAME/<version>/ied-<i>.onnx + manifest.json')
    .argument('<run>', 'training run folder')
    .requiredOption('--out <dir>', 'model set folder (the version folder is created inside)')
    .option('--version <v>', 'version name (default: <algo>-e<episodes>-<content hash>)')
    .action(async (run: string, opts: { out: string; version?: string }) => {
      const { exportRun } = await import('../trainer/export-set.ts');
      const { verifyModelSet } = await import('../core/model-set.ts');
      const { dir, manifest } = exportRun({ runDir: run, outDir: opts.out, ...(opts.version ? { version: opts.version } : {}), command: ['gmel', ...process.argv.slice(2)].join(' ') });
      verifyModelSet(dir);
      console.log(JSON.stringify({ dir, version: manifest.version, files: Object.keys(manifest.files).length, obsEncoderVersion: manifest.obsEncoderVersion }));
    });
}
