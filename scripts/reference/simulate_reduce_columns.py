#!/usr/bin/env python3
"""A plain Python transcription of the column reduction in kernels/reduce.cu
(reduce_columns_partial, reduce_columns_finish) with the launch configuration of
src/backend/cuda/reduce.rs::reduce_columns, to check its indexing without a GPU: every partial is
written exactly once, nothing is read outside the input, and the result equals numpy's reduction,
for shapes with partial column tiles, empty axes, one chunk, many chunks, and more outer slices than
the grid's z side (lowered here to exercise the stride). Run: python3 scripts/reference/simulate_reduce_columns.py
"""
import numpy as np, math
W,R=32,8
def run(outer, reduced, inner, sms=132, maxz=65535, op="sum"):
    """Runs one launch pair on random input; returns (chunks, chunk) as the launcher chose them."""
    x=np.random.randn(outer*reduced*inner).astype(np.float32)
    tiles=math.ceil(inner/W); slices=min(outer,maxz)
    most=max(1,min(math.ceil(reduced/(4*R)),65535))
    chunks=min(max(math.ceil(sms*8/(tiles*slices)),1),most)
    chunk=max(1,math.ceil(reduced/chunks))
    ident=0.0 if op=='sum' else -np.inf
    comb=(lambda a,b:a+b) if op=='sum' else np.fmax
    partial=np.full(outer*chunks*inner,np.nan,np.float32)
    for bx in range(tiles):
      for by in range(chunks):
        for bz in range(slices):
          begin=by*chunk; end=min(begin+chunk,reduced)
          o=bz
          while o<outer:
            lanes=np.zeros((R,W+1),np.float32)
            for ty in range(R):
              for tx in range(W):
                col=bx*W+tx; acc=ident
                if col<inner:
                  r=begin+ty
                  while r<end:
                    acc=comb(acc,x[o*reduced*inner+col+r*inner]); r+=R
                lanes[ty,tx]=acc
            for tx in range(W):
              col=bx*W+tx
              if col<inner:
                acc=lanes[0,tx]
                for l in range(1,R): acc=comb(acc,lanes[l,tx])
                assert np.isnan(partial[(o*chunks+by)*inner+col])
                partial[(o*chunks+by)*inner+col]=acc
            o+=slices
    assert not np.isnan(partial).any()
    out=np.empty(outer*inner,np.float32)
    for idx in range(outer*inner):
      o,col=divmod(idx,inner); acc=ident
      for c in range(chunks): acc=comb(acc,partial[(o*chunks+c)*inner+col])
      out[idx]=acc
    ref=x.reshape(outer,reduced,inner)
    ref=ref.sum(1) if op=='sum' else (ref.max(1) if reduced else np.full((outer,inner),-np.inf))
    assert np.allclose(out.reshape(outer,inner),ref,atol=1e-4), (outer,reduced,inner)
    return chunks,chunk
for args in [(1,1000,3),(1,5000,70),(3,17,33),(5,0,4),(4,3,2),(70,9,5),(1,1,2)]:
    print(args,run(*args),run(*args,op='max'))
print(run(7,40,5,maxz=3))
print("ok")
