package sqlite
import ("testing";"context";"time";"fmt";"github.com/nines-sre/nines/store")
func TestDbgSize(t *testing.T){
	ctx:=context.Background()
	db:=open(t,t.TempDir())
	names:=[]string{}
	for i:=0;i<10;i++{names=append(names,fmt.Sprintf("service-%02d/latency",i))}
	b:=&testing.B{}
	_=b
	end:=benchT0+2*24*int64(time.Hour)
	for m:=benchT0;m<end;m+=int64(time.Minute){
		app:=db.Appender(ctx)
		for i,s:=range names{ app.Append(s,time.Minute,benchRollup(m,uint64(i),100))}
		if err:=app.Commit();err!=nil{t.Fatal(err)}
	}
	show:=func(label string){
		db.Checkpoint(ctx)
		var pc,fl int
		db.w.QueryRow("PRAGMA page_count").Scan(&pc)
		db.w.QueryRow("PRAGMA freelist_count").Scan(&fl)
		rows,err:=db.w.Query("SELECT name, count(*), sum(pgsize), sum(unused), sum(ncell), sum(payload) FROM dbstat GROUP BY name")
		if err!=nil{t.Log(err);return}
		t.Logf("%s: pages %d free %d", label, pc, fl)
		for rows.Next(){var n string; var c,s,u,nc,p int64; rows.Scan(&n,&c,&s,&u,&nc,&p); t.Logf("  %s pages=%d bytes=%d unused=%d cells=%d payload=%d", n,c,s,u,nc,p)}
		rows.Close()
	}
	show("full")
	st,err:=db.Compact(ctx,time.Unix(0,end+int64(store.DefaultFull)+int64(time.Hour)),store.Retention{})
	t.Log(st,err)
	show("compacted")
}
