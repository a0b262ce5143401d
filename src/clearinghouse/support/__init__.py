"""Family support: peer support from people who lived it, and referrals to mental-health professionals."""
