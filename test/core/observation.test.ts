// The one observation encoder: hand-computed encoding.
import t from 'tap';
import { encodeObservation, observationSize, OBS_ENCODER_VERSION } from '../../core/observation.ts';

t.test('layout and scaling by hand', async (t) => {
  const scales = { edgeServers: 2, ieds: 10, sizeMaxMbit: 40, densityMax: 0.05, deadlineMaxSeconds: 2.5 };
  const out = new Float32Array(observationSize(2) + 1).fill(-1);
  encodeObservation(out, 1, {
    taskSizeMbit: 20, taskDensity: 0.025, taskDeadlineLeftSeconds: 1.25, localWaitSeconds: 0.5,
    uplinkBacklogMbit: 40, edgeBacklogMbit: [0, 0, 0, 80], edgeOffset: 2, edgeLoad: [5, 0],
    spectralEfficiency: [15, 30], channelOffset: 0,
  }, scales);
  t.equal(out[0], -1, 'writes only from the offset');
  const expected = [0.5, 0.5, 0.5, 0.2, Math.log(2), 0, Math.log(3), 0.5, 0, 0.5, 1];
  t.equal(out.length - 1, expected.length, '5 + 3M features');
  expected.forEach((v, k) => t.ok(Math.abs((out[k + 1] as number) - v) < 1e-6, `feature ${k}: ${out[k + 1]} ≈ ${v}`));
  t.match(OBS_ENCODER_VERSION, /^gmel-obs\/\d+$/);
});
