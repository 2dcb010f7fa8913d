# Instruments, check-ins, alerts and trend reports arrive with the check-in issue.
