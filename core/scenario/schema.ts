/**
 * The scenario file: one JSON document describing a plant (devices, radio, workload, reward).
 *
 * | field            | unit / meaning                                                           |
 * |------------------|--------------------------------------------------------------------------|
 * | semantics        | "gmel" (the paper's Sec. III, default) or "tang2020" (Tang & Wong code)  |
 * | slotSeconds      | Δt, seconds per slot                                                     |
 * | episodeSlots     | T, slots with arrivals per episode (a drain without arrivals follows)    |
 * | ieds/edgeServers | I and M                                                                  |
 * | areaMeters       | plant floor; ESs on a grid, IEDs placed uniformly from `layoutSeed`      |
 * | arrivals         | per IED per slot: Bernoulli(probability) or Poisson(mean = probability)  |
 * | task             | ranges (uniform) of size s [Mbit], density e [Gcycles/Mbit], deadline d [s] |
 * | ied              | f_i^G [GHz = Gcycles/s], transmit power P_i [W]                           |
 * | edge             | F_m^G [GHz], band B_m [MHz] (per-server spectrum only); a number, one per  |
 * |                  | server, or {min,max} spaced                                              |
 * | radio            | "shannon" (path loss + fading + noise, OFDMA split) or "fixed" rate;     |
 * |                  | spectrum "per-server" (each ES its band B_m, split among those sending   |
 * |                  | to it) or "shared" (one system band bandwidthMHz = B split among every   |
 * |                  | IED sending in the slot, Sec. III)                                       |
 * | reward           | eq. (4): C − latency on completion; a drop counts as dropLatencySeconds  |
 *
 * Documented with sources in docs/scenarios.md.
 */
import { Type, type Static } from '@sinclair/typebox';

const Positive = (description: string) => Type.Number({ exclusiveMinimum: 0, description });
const NonNegative = (description: string) => Type.Number({ minimum: 0, description });

export const RangeSchema = Type.Object(
  { min: NonNegative('lower bound'), max: NonNegative('upper bound') },
  { additionalProperties: false },
);

/** A per-edge-server quantity: the same for all, one value per server, or linearly spaced min..max. */
export const PerServerSchema = Type.Union([
  Positive('same value for every edge server'),
  Type.Array(Positive('value of one edge server'), { minItems: 1 }),
  Type.Object(
    { min: Positive('value of the first server'), max: Positive('value of the last server') },
    { additionalProperties: false },
  ),
]);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    semantics: Type.Union([Type.Literal('gmel'), Type.Literal('tang2020')]),
    slotSeconds: Positive('Δt in seconds'),
    episodeSlots: Type.Integer({ minimum: 1, description: 'T: slots with arrivals' }),
    ieds: Type.Integer({ minimum: 1, description: 'I: number of industrial edge devices' }),
    edgeServers: Type.Integer({ minimum: 1, description: 'M: number of edge servers' }),
    areaMeters: Type.Object(
      { width: Positive('metres'), height: Positive('metres') },
      { additionalProperties: false },
    ),
    layoutSeed: Type.Integer({ minimum: 0, description: 'seed of the fixed plant layout' }),
    arrivals: Type.Object(
      {
        process: Type.Union([Type.Literal('bernoulli'), Type.Literal('poisson')]),
        probability: NonNegative('Bernoulli p, or Poisson mean per slot'),
      },
      { additionalProperties: false },
    ),
    task: Type.Object(
      {
        sizeMbit: RangeSchema,
        densityGcyclesPerMbit: RangeSchema,
        deadlineSeconds: RangeSchema,
      },
      { additionalProperties: false },
    ),
    ied: Type.Object(
      { gpuGHz: Positive('local GPU rate f_i^G'), txPowerW: Positive('transmit power P_i') },
      { additionalProperties: false },
    ),
    edge: Type.Object(
      // bandwidthMHz: each server's own band B_m (radio.spectrum "per-server"); absent with a shared band
      { gpuGHz: PerServerSchema, bandwidthMHz: Type.Optional(PerServerSchema) },
      { additionalProperties: false },
    ),
    radio: Type.Object(
      {
        model: Type.Union([Type.Literal('shannon'), Type.Literal('fixed')]),
        fixedRateMbps: Type.Optional(Positive('per IED–ES pair rate when model = fixed')),
        pathLossDbAt1km: Type.Number({ description: 'PL(d) = a + b·log10(d/km): a' }),
        pathLossDbPerDecade: Type.Number({ description: 'PL(d) = a + b·log10(d/km): b' }),
        noiseDbmPerHz: Type.Number({ description: 'noise power spectral density' }),
        fading: Type.Union([Type.Literal('rayleigh'), Type.Literal('none')]),
        spectrum: Type.Optional(
          Type.Union([Type.Literal('per-server'), Type.Literal('shared')], {
            description: 'per-server (default): each ES has its band edge.bandwidthMHz, split among the IEDs sending to it; shared: one system band radio.bandwidthMHz split among every IED sending in the slot (the paper, Sec. III)',
          }),
        ),
        bandwidthMHz: Type.Optional(Positive('system band B when spectrum = shared')),
      },
      { additionalProperties: false },
    ),
    reward: Type.Object(
      {
        completionConstant: Type.Number({ description: 'C of eq. (4), seconds' }),
        dropLatencySeconds: NonNegative('latency charged to a dropped task in eq. (4)'),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Scenario = Static<typeof ScenarioSchema>;
export type Range = Static<typeof RangeSchema>;
export type PerServer = Static<typeof PerServerSchema>;
