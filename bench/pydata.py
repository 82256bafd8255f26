# pydata.py READY: a python job holding data as programs do: a dict of
# 600k records (str keys, tuples of str/int/float), a list of 1M short
# strings and one of 1M floats; makes the file READY, then waits.
import os
import sys
import time

words = ['alpha', 'beta', 'gamma', 'delta', 'frozen', 'thawed', 'job', 'page']
table = {}
for i in range(600000):
    table['key-%07d' % i] = (words[i % 8] + '-' + words[(i // 8) % 8], i * 7, i / 3.0)
names = ['%s.%d' % (words[i % 8], i % 5000) for i in range(1000000)]
values = [i * 0.25 for i in range(1000000)]
open(sys.argv[1], 'w').close()
while True:
    time.sleep(1)
