package dirty

const sysUserfaultfd = 323
