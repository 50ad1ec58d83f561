package mi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func benchNotification() *events.Notification {
	exp := time.Now().Add(time.Hour)
	return &events.Notification{Title: "Your order shipped", Body: "Parcel 123 is on its way and arrives tomorrow.",
		Data: map[string]any{"order": "123", "deep_link": "app://orders/123"}, CollapseKey: "order-123", Expiry: &exp}
}

func BenchmarkBuildMessage(b *testing.B) {
	n := benchNotification()
	o := &events.MiOverrides{ChannelID: "orders", Extra: map[string]string{"notify_effect": "1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildMessage(n, o, "com.example.shop", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTargetBody(b *testing.B) {
	m, err := BuildMessage(benchNotification(), nil, "com.example.shop", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 1000} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("r/%040d+A=", i) // ~46 bytes like a real regid
		}
		b.Run(fmt.Sprintf("regids=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = targetBody(m, "registration_id", ids, false)
			}
		})
	}
}

func BenchmarkClassifyAnswer(b *testing.B) {
	bad := make([]string, 100)
	for i := range bad {
		bad[i] = fmt.Sprintf("r/%040d+A=", i)
	}
	bodies := map[string]string{
		"ok":       `{"result":"ok","trace_id":"Xlm12b34488763708227kX","code":0,"data":{"id":"alm12b34488763708232Vy","day_quota":"50000","day_acked":"3"},"description":"成功","info":"Received push messages for 1 REGID"}`,
		"bad100":   `{"result":"ok","trace_id":"Xlm1","code":0,"data":{"id":"alm1","bad_regids":"` + strings.Join(bad, ",") + `"},"description":"成功","info":"Received push messages for 900 REGID"}`,
		"error":    `{"result":"error","reason":"No valid targets!","trace_id":"Xlm1","code":20301,"description":"发送消息失败"}`,
		"non-json": `<html>bad gateway</html>`,
	}
	h := http.Header{}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			raw := []byte(body)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = classifyAnswer(200, h, raw, time.Now())
			}
		})
	}
}
