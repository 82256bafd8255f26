/* loop.c: tiny benchmark job, used when the tests' cpuloop is not built:
 * spins on a counter in a few KiB of memory until killed. */
#include <stdint.h>

int main(void)
{
	volatile uint64_t counter = 0;

	for (;;)
		counter++;
}
