package policy

import "testing"

func TestCheckAutomaticUpgrade(t *testing.T) {
	on := Default()
	on.State = StateEnabled
	off, err := Apply(on, []byte(`{"isAutomaticUpgradeAllowed":false}`))
	if err != nil {
		t.Fatal(err)
	}
	noSelfService, err := Apply(on, []byte(`{"isSelfServiceRegistrationAllowed":false}`))
	if err != nil {
		t.Fatal(err)
	}
	excluded, err := Apply(on, []byte(`{"excludeTargets":[{"targetType":"group","id":"11111111-1111-1111-1111-111111111111"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		f          Fido2
		groups     []string
		hasPasskey bool
		want       string
	}{
		{"in_scope_no_passkey", on, nil, false, ""},
		{"switch_off", off, nil, false, CodeAutomaticUpgradeOff},
		{"has_passkey", on, nil, true, CodeHasPasskey},
		{"excluded", excluded, []string{"11111111-1111-1111-1111-111111111111"}, false, CodeExcludedByGroup},
		{"self_service_off", noSelfService, nil, false, CodeSelfServiceDisabled},
		{"method_disabled", Default(), nil, false, CodeMethodDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.f.CheckAutomaticUpgrade(tc.groups, tc.hasPasskey)
			if d.Code != tc.want || d.Allowed != (tc.want == "") {
				t.Fatalf("got %+v, want code %q", d, tc.want)
			}
			if !d.Allowed && d.Reason == "" {
				t.Fatal("a refusal without a reason")
			}
		})
	}
}

func TestAutomaticUpgradeSwitchRoundTrips(t *testing.T) {
	if !Default().IsAutomaticUpgradeAllowed {
		t.Fatal("default must allow automatic upgrade")
	}
	f, err := Apply(Default(), []byte(`{"isAutomaticUpgradeAllowed":false}`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(data)
	if err != nil || back.IsAutomaticUpgradeAllowed {
		t.Fatalf("after a round trip: %v %v (%s)", back.IsAutomaticUpgradeAllowed, err, data)
	}
	if _, err := Apply(Default(), []byte(`{"isAutomaticUpgradeAllowed":"no"}`)); err == nil {
		t.Fatal("a string for the switch was accepted")
	}
}
