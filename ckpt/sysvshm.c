/* sysvshm.c: SysV shared memory. A segment outlives the processes that
 * attach it (until removed), with its id and contents, in the kernel: the
 * thawed job attaches the same segment again at the same address. One
 * marked for removal (IPC_RMID) vanishes when the frozen job is killed
 * and could not come back under its id: refused, naming it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PAGE 4096UL

int sysvshm_classify(struct dump_ctx *c, const struct proc_vma *pv, Vma *v)
{
	struct shmid_ds ds;
	int shmid = (int)pv->ino;	/* the maps inode of a SysV segment is its id */
	const Vma *prev = c->img->n_vmas > 1 ? c->img->vmas[c->img->n_vmas - 2] : NULL;

	if (shmctl(shmid, IPC_STAT, &ds) < 0) {
		pr_perror("process %d maps SysV shared memory segment %d (%s) at %#lx, which "
			  "cannot be looked at", c->pid, shmid, pv->path, (unsigned long)pv->start);
		return -1;
	}
	if (ds.shm_perm.mode & SHM_DEST) {
		pr_err("process %d maps SysV shared memory segment %d (key 0x%08x) at %#lx, which is "
		       "marked for removal: it would vanish with the job, and cannot come back "
		       "under its id; such a job cannot be frozen", c->pid, shmid,
		       (unsigned)ds.shm_perm.__key, (unsigned long)pv->start);
		return -1;
	}
	/* One attachment may be several areas (mprotect): all but the first
	 * follow one of the same segment. */
	if (pv->pgoff && !(prev && prev->kind == VMA__KIND__SYSV_SHM && prev->shmem_id == (uint64_t)shmid &&
			   prev->end == pv->start && prev->pgoff + (prev->end - prev->start) == pv->pgoff)) {
		pr_err("process %d maps only part of SysV shared memory segment %d at %#lx: that "
		       "cannot be frozen", c->pid, shmid, (unsigned long)pv->start);
		return -1;
	}
	v->kind = VMA__KIND__SYSV_SHM;
	v->has_shmem_id = 1;
	v->shmem_id = shmid;
	/* attached writable (VM_MAYWRITE) though this area may be read-only
	 * now (mprotect): the thaw attaches it writable too */
	v->has_may_write = 1;
	v->may_write = !!(pv->vmflags & VMF_MAYWRITE);
	return 0;
}

long sysvshm_attach(struct restore_ctx *r, size_t i)
{
	const Vma *v = r->img->vmas[i];
	struct shmid_ds ds;
	unsigned key = 0;
	int shmid = (int)v->shmem_id;
	long ret;

	if (v->pgoff == 0) {
		if (!v->name || sscanf(v->name, "/SYSV%x", &key) != 1) {
			pr_err("damaged image: SysV shared memory at %#lx", (unsigned long)v->start);
			return -EINVAL;
		}
		if (shmctl(shmid, IPC_STAT, &ds) < 0 || (unsigned)ds.shm_perm.__key != key) {
			pr_err("the SysV shared memory segment %d (key 0x%08x) the job had at %#lx is gone "
			       "(removed, or the machine restarted): the job cannot come back", shmid,
			       key, (unsigned long)v->start);
			return -ENOENT;
		}
		/* Writable if any area of the attachment is or may be: a page
		 * mprotected read-only comes first, a writable one after it. */
		bool writable = false;
		for (size_t k = i; k < r->img->n_vmas && r->img->vmas[k]->kind == VMA__KIND__SYSV_SHM &&
		     r->img->vmas[k]->shmem_id == v->shmem_id && (k == i || r->img->vmas[k]->pgoff); k++)
			writable |= (r->img->vmas[k]->prot & PROT_WRITE) || r->img->vmas[k]->may_write;
		ret = INJECT(&r->in, SYS_shmat, shmid, v->start, writable ? 0 : SHM_RDONLY);
		if (ret != (long)v->start)
			return ret < 0 ? ret : -EADDRNOTAVAIL;
		/* What the job had unmapped of it stays unmapped. */
		uint64_t end = v->end;
		for (size_t k = i + 1; k < r->img->n_vmas && r->img->vmas[k]->kind == VMA__KIND__SYSV_SHM &&
		     r->img->vmas[k]->shmem_id == v->shmem_id && r->img->vmas[k]->pgoff; k++)
			end = r->img->vmas[k]->end;
		uint64_t seg_end = v->start + ((ds.shm_segsz + PAGE - 1) & ~(PAGE - 1));
		if (seg_end > end && INJECT(&r->in, SYS_munmap, end, seg_end - end) < 0)
			return -EINVAL;
	}
	ret = INJECT(&r->in, SYS_mprotect, v->start, v->end - v->start, v->prot);
	return ret < 0 ? ret : (long)v->start;
}
