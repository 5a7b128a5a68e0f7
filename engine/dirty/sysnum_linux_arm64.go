package dirty

const sysUserfaultfd = 282
