/**
 * Precompiled validators by name. Empty here: validators compile on first use (core/validators.ts).
 * The gateway's bundle replaces this module with ajv's standalone code for every validator that
 * core/validators.ts records (deploy/build-gateway.ts, plugin `precompiledValidators`).
 */
import type { ValidateFunction } from 'ajv';

export const PRECOMPILED: Readonly<Record<string, ValidateFunction>> = {};
