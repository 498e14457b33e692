import { creditUnit, unitExplanation } from '../lib/earnings.js';
import { creditsDecimal, formatCredits } from '../lib/format.js';

/**
 * An amount in the market's unit: "0.012345 CPC", with CPC explained on hover, or
 * "0.012345 practice credits" on the practice market (not money). `testId` goes on the number.
 */
export function Amount({
  micro,
  practice,
  testId,
  exact,
}: {
  micro: string | bigint | null | undefined;
  practice: boolean;
  testId?: string;
  /** Plain decimal without thousands separators (what tests read). */
  exact?: boolean;
}) {
  const text = micro === null || micro === undefined ? '—' : exact ? creditsDecimal(micro) : formatCredits(micro);
  return (
    <span className="credits num">
      <span data-testid={testId}>{text}</span>{' '}
      <abbr className="unit" title={unitExplanation(practice)}>
        {creditUnit(practice)}
      </abbr>
    </span>
  );
}
