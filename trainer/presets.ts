/**
 * Names the CLI validates before any training code loads (the trainer pulls TensorFlow.js in; `gmel ied`
 * on a gateway must not). The values are re-exported by learner.ts, algorithms.ts and backend.ts.
 */
export const ALGORITHMS = ['amarl', 'maddpg', 'ac', 'dqn'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const PRESETS = ['smoke', 'quick', 'paper'] as const;
export type Preset = (typeof PRESETS)[number];

export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
