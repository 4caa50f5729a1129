export { CHARS_PER_TOKEN, estimateTokens, tokenCost, TokenMeter, type CallUsage, type TokenSource, type TokenTotals, type UsagePurpose, type UsageSink } from './tokens';
export { localDay, summarize, TOKEN_LEDGER_FILE, TokenLedger, tokenSummary, type LedgerRecord, type ModelTotals, type PeriodTotals, type TokenSummary } from './tokenLedger';
