// The colours of risk, used the same on cards, tags and the detail page: red means go now.
export type RiskLevel = 'high' | 'medium' | 'low'

export const RISK_COLOURS: Record<RiskLevel, { fg: string; bg: string }> = {
  high: { fg: '#ffffff', bg: '#d4202c' },
  medium: { fg: '#ffffff', bg: '#e6780f' },
  low: { fg: '#ffffff', bg: '#4a6a8a' },
}

export function riskColour(level: string): { fg: string; bg: string } {
  return RISK_COLOURS[(level in RISK_COLOURS ? level : 'low') as RiskLevel]
}

// The police blue of the header and primary buttons.
export const POLICE_BLUE = '#0b2a5b'
