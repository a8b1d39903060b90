/** Compositions benchmark scenarios (filled in once the compositions routes are final). */
import type { Ready, Row } from './run.ts';

export interface ScenarioContext {
  ready: Ready;
  backend: string;
  auth: Record<string, string>;
  load: typeof import('./run.ts').load;
}

export const compositionScenarios: { name: string; run(ctx: ScenarioContext): Promise<Omit<Row, 'backend'>[]> }[] = [];
