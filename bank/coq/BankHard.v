(* Lemma bank, hard. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. *)

Require Import Arith Lia List Bool.
Import ListNotations.

Fixpoint sum_to (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S k + sum_to k
  end.

Fixpoint sum_list (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => x + sum_list t
  end.

Fixpoint sum_acc (l : list nat) (acc : nat) : nat :=
  match l with
  | [] => acc
  | x :: t => sum_acc t (acc + x)
  end.

Fixpoint rev_onto {A : Type} (l acc : list A) : list A :=
  match l with
  | [] => acc
  | x :: t => rev_onto t (x :: acc)
  end.

Fixpoint len_acc {A : Type} (l : list A) (n : nat) : nat :=
  match l with
  | [] => n
  | _ :: t => len_acc t (S n)
  end.

Fixpoint double (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S (S (double k))
  end.

Fixpoint evenb (n : nat) : bool :=
  match n with
  | 0 => true
  | S 0 => false
  | S (S k) => evenb k
  end.

Inductive ev : nat -> Prop :=
  | ev_0 : ev 0
  | ev_SS : forall n, ev n -> ev (S (S n)).

Fixpoint factorial (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => S k * factorial k
  end.

Fixpoint fact_acc (n acc : nat) : nat :=
  match n with
  | 0 => acc
  | S k => fact_acc k (S k * acc)
  end.

Fixpoint pow2 (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => 2 * pow2 k
  end.

Fixpoint fib (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k =>
      match k with
      | 0 => 1
      | S j => fib k + fib j
      end
  end.

Fixpoint fib_iter (n a b : nat) : nat :=
  match n with
  | 0 => a
  | S k => fib_iter k b (a + b)
  end.

Fixpoint count_nat (x : nat) (l : list nat) : nat :=
  match l with
  | [] => 0
  | y :: t => if Nat.eqb x y then S (count_nat x t) else count_nat x t
  end.

Fixpoint ins (x : nat) (l : list nat) : list nat :=
  match l with
  | [] => [x]
  | y :: t => if Nat.leb x y then x :: y :: t else y :: ins x t
  end.

Fixpoint isort (l : list nat) : list nat :=
  match l with
  | [] => []
  | x :: t => ins x (isort t)
  end.

Inductive sorted : list nat -> Prop :=
  | sorted_nil : sorted []
  | sorted_one : forall x, sorted [x]
  | sorted_cons : forall x y l, x <= y -> sorted (y :: l) -> sorted (x :: y :: l).

Fixpoint maxl (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => Nat.max x (maxl t)
  end.

Inductive btree : Type :=
  | bleaf : btree
  | bnode : btree -> nat -> btree -> btree.

Fixpoint bsize (t : btree) : nat :=
  match t with
  | bleaf => 0
  | bnode l _ r => S (bsize l + bsize r)
  end.

Fixpoint mirror (t : btree) : btree :=
  match t with
  | bleaf => bleaf
  | bnode l x r => bnode (mirror r) x (mirror l)
  end.

Fixpoint flatten (t : btree) : list nat :=
  match t with
  | bleaf => []
  | bnode l x r => flatten l ++ x :: flatten r
  end.

Fixpoint leaves (t : btree) : nat :=
  match t with
  | bleaf => 1
  | bnode l _ r => leaves l + leaves r
  end.

Inductive star {A : Type} (R : A -> A -> Prop) : A -> A -> Prop :=
  | star_refl : forall x, star R x x
  | star_step : forall x y z, R x y -> star R y z -> star R x z.

Lemma double_eq_add : forall n : nat, double n = n + n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma sum_list_app : forall l1 l2 : list nat, sum_list (l1 ++ l2) = sum_list l1 + sum_list l2.
Proof.
  intros l1 l2. induction l1 as [|x l1 IH]; simpl; lia.
Qed.

Lemma count_app : forall (x : nat) (l1 l2 : list nat), count_nat x (l1 ++ l2) = count_nat x l1 + count_nat x l2.
Proof.
  intros x l1 l2. induction l1 as [|y l1 IH]; simpl.
  - reflexivity.
  - destruct (Nat.eqb x y); simpl; lia.
Qed.

Lemma ev_double : forall n : nat, ev (double n).
Proof.
  induction n as [|n IH]; simpl; constructor; assumption.
Qed.

Lemma ev_evenb : forall n : nat, ev n -> evenb n = true.
Proof.
  intros n H. induction H as [|n H IH]; simpl; auto.
Qed.

Lemma factorial_pos : forall n : nat, 0 < factorial n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma pow2_pos : forall n : nat, 0 < pow2 n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma star_one : forall (A : Type) (R : A -> A -> Prop) (x y : A), R x y -> star R x y.
Proof.
  intros A R x y H. apply star_step with y; [exact H | apply star_refl].
Qed.

Lemma ins_sum : forall (x : nat) (l : list nat), sum_list (ins x l) = x + sum_list l.
Proof.
  intros x l. induction l as [|y l IH]; simpl.
  - reflexivity.
  - destruct (Nat.leb x y); simpl; lia.
Qed.

Lemma rev_onto_spec : forall (A : Type) (acc l : list A), rev_onto l acc = rev l ++ acc.
Proof.
  intros A acc l. revert acc. induction l as [|x l IH]; intros acc; simpl.
  - reflexivity.
  - rewrite IH, <- app_assoc. reflexivity.
Qed.

Lemma rev_onto_nil : forall (A : Type) (l : list A), rev_onto l [] = rev l.
Proof.
  intros A l. rewrite rev_onto_spec. apply app_nil_r.
Qed.

Lemma length_rev_onto : forall (A : Type) (acc l : list A), length (rev_onto l acc) = length l + length acc.
Proof.
  intros A acc l. revert acc. induction l as [|x l IH]; intros acc; simpl.
  - reflexivity.
  - rewrite IH. simpl. lia.
Qed.

Lemma sum_acc_spec : forall (acc : nat) (l : list nat), sum_acc l acc = acc + sum_list l.
Proof.
  intros acc l. revert acc. induction l as [|x l IH]; intros acc; simpl.
  - lia.
  - rewrite IH. lia.
Qed.

Lemma sum_acc_zero : forall l : list nat, sum_acc l 0 = sum_list l.
Proof.
  intros l. rewrite sum_acc_spec. reflexivity.
Qed.

Lemma fact_acc_spec : forall acc n : nat, fact_acc n acc = factorial n * acc.
Proof.
  intros acc n. revert acc. induction n as [|n IH]; intros acc; simpl.
  - lia.
  - rewrite IH. lia.
Qed.

Lemma fact_acc_one : forall n : nat, fact_acc n 1 = factorial n.
Proof.
  intros n. rewrite fact_acc_spec. lia.
Qed.

Lemma fib_iter_spec : forall n k : nat, fib_iter n (fib k) (fib (S k)) = fib (n + k).
Proof.
  induction n as [|n IH]; intros k.
  - reflexivity.
  - cbn [fib_iter]. rewrite (Nat.add_comm (fib k)).
    change (fib (S k) + fib k) with (fib (S (S k))).
    rewrite IH. f_equal. lia.
Qed.

Lemma fib_iter_correct : forall n : nat, fib_iter n 0 1 = fib n.
Proof.
  intros n. pose proof (fib_iter_spec n 0) as H. rewrite Nat.add_0_r in H. exact H.
Qed.

Lemma sum_list_rev : forall l : list nat, sum_list (rev l) = sum_list l.
Proof.
  induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite sum_list_app. simpl. lia.
Qed.

Lemma count_rev : forall (x : nat) (l : list nat), count_nat x (rev l) = count_nat x l.
Proof.
  intros x l. induction l as [|y l IH]; simpl.
  - reflexivity.
  - rewrite count_app. simpl. destruct (Nat.eqb x y); simpl; lia.
Qed.

Lemma flatten_mirror : forall t : btree, flatten (mirror t) = rev (flatten t).
Proof.
  induction t as [|l IHl x r IHr]; simpl.
  - reflexivity.
  - rewrite IHl, IHr, rev_app_distr. simpl. rewrite <- app_assoc. reflexivity.
Qed.

Lemma ins_sorted : forall (x : nat) (l : list nat), sorted l -> sorted (ins x l).
Proof.
  intros x l H. induction H as [| y | y z l Hyz Hs IH]; simpl.
  - constructor.
  - destruct (Nat.leb x y) eqn:E.
    + apply Nat.leb_le in E. constructor; [exact E | constructor].
    + apply Nat.leb_gt in E. constructor; [lia | constructor].
  - destruct (Nat.leb x y) eqn:E.
    + apply Nat.leb_le in E. constructor; [exact E | constructor; assumption].
    + apply Nat.leb_gt in E. simpl in IH. destruct (Nat.leb x z) eqn:E2.
      * constructor; [lia | exact IH].
      * constructor; [exact Hyz | exact IH].
Qed.

Lemma isort_sorted : forall l : list nat, sorted (isort l).
Proof.
  induction l as [|x l IH]; simpl.
  - constructor.
  - apply ins_sorted. exact IH.
Qed.

Lemma isort_sum : forall l : list nat, sum_list (isort l) = sum_list l.
Proof.
  induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite ins_sum, IH. reflexivity.
Qed.

Lemma count_ins : forall x y : nat, forall l : list nat, count_nat y (ins x l) = count_nat y (x :: l).
Proof.
  intros x y l. induction l as [|a l IH]; simpl.
  - reflexivity.
  - destruct (Nat.leb x a); simpl.
    + reflexivity.
    + rewrite IH. simpl. destruct (Nat.eqb y x), (Nat.eqb y a); reflexivity.
Qed.

Lemma isort_count : forall (y : nat) (l : list nat), count_nat y (isort l) = count_nat y l.
Proof.
  intros y l. induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite count_ins. simpl. rewrite IH. reflexivity.
Qed.

Lemma evenb_ev : forall n : nat, evenb n = true -> ev n.
Proof.
  intros n.
  assert (H : forall k, (evenb k = true -> ev k) /\ (evenb (S k) = true -> ev (S k))).
  { induction k as [|k [IH1 IH2]]; split; intros E.
    - constructor.
    - discriminate E.
    - exact (IH2 E).
    - simpl in E. constructor. exact (IH1 E). }
  exact (proj1 (H n)).
Qed.

Lemma evenb_ev_iff : forall n : nat, evenb n = true <-> ev n.
Proof.
  intros n. split; [apply evenb_ev | apply ev_evenb].
Qed.

Lemma ev_minus : forall n m : nat, ev (n + m) -> ev n -> ev m.
Proof.
  intros n m Hnm Hn. induction Hn as [|n Hn IH].
  - exact Hnm.
  - apply IH. simpl in Hnm. inversion Hnm. assumption.
Qed.

Lemma ev_not_ev_succ : forall n : nat, ev n -> ~ ev (S n).
Proof.
  intros n H. induction H as [|n H IH]; intros H'.
  - inversion H'.
  - apply IH. inversion H'. assumption.
Qed.

Lemma ev_add_self : forall n : nat, ev (n + n).
Proof.
  intros n. rewrite <- double_eq_add. apply ev_double.
Qed.

Lemma double_inj : forall n m : nat, double n = double m -> n = m.
Proof.
  induction n as [|n IH]; intros m H; destruct m as [|m].
  - reflexivity.
  - discriminate H.
  - discriminate H.
  - simpl in H. injection H as H. f_equal. apply IH. exact H.
Qed.

Lemma forallb_le_iff : forall (k : nat) (l : list nat), forallb (fun x => Nat.leb x k) l = true <-> (forall x, In x l -> x <= k).
Proof.
  intros k l. induction l as [|a l IH]; simpl.
  - split; [intros _ x [] | reflexivity].
  - rewrite andb_true_iff, Nat.leb_le, IH. split.
    + intros [Ha Hl] x [Hx|Hx]; [subst; exact Ha | exact (Hl x Hx)].
    + intros H. split; [apply H; left; reflexivity | intros x Hx; apply H; right; exact Hx].
Qed.

Lemma existsb_eqb_iff : forall (x : nat) (l : list nat), existsb (Nat.eqb x) l = true <-> In x l.
Proof.
  intros x l. induction l as [|a l IH]; simpl.
  - split; [discriminate | intros []].
  - rewrite orb_true_iff, Nat.eqb_eq, IH. split; intros [H|H]; subst; auto.
Qed.

Lemma fold_left_add_shift : forall (a : nat) (l : list nat), fold_left Nat.add l a = a + fold_left Nat.add l 0.
Proof.
  intros a l. revert a. induction l as [|x l IH]; intros a; simpl.
  - lia.
  - rewrite (IH (a + x)), (IH x). lia.
Qed.

Lemma fold_left_sum : forall l : list nat, fold_left Nat.add l 0 = sum_list l.
Proof.
  induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite fold_left_add_shift, IH. reflexivity.
Qed.

Lemma pow2_strict_mono : forall n m : nat, n < m -> pow2 n < pow2 m.
Proof.
  intros n m H. induction H as [|m H IH]; simpl; pose proof (pow2_pos n); lia.
Qed.

Lemma pow2_le_fact : forall n : nat, pow2 n <= factorial (S n).
Proof.
  induction n as [|n IH].
  - simpl. lia.
  - change (factorial (S (S n))) with (S (S n) * factorial (S n)). simpl pow2. nia.
Qed.

Lemma sq_ineq : forall a b : nat, 2 * a * b <= a * a + b * b.
Proof.
  intros a b. destruct (Nat.le_ge_cases a b) as [H|H].
  - assert (exists d, b = a + d) as [d ->] by (exists (b - a); lia). nia.
  - assert (exists d, a = b + d) as [d ->] by (exists (a - b); lia). nia.
Qed.

Lemma factorial_ge_self : forall n : nat, n <= factorial n.
Proof.
  induction n as [|n IH].
  - lia.
  - simpl. pose proof (factorial_pos n). nia.
Qed.

Lemma star_trans : forall (A : Type) (R : A -> A -> Prop) (x y z : A), star R x y -> star R y z -> star R x z.
Proof.
  intros A R x y z H1 H2. induction H1 as [x | x w y Hxw Hwy IH].
  - exact H2.
  - apply star_step with w; [exact Hxw | exact (IH H2)].
Qed.

Lemma star_sym : forall (A : Type) (R : A -> A -> Prop), (forall a b, R a b -> R b a) -> forall x y, star R x y -> star R y x.
Proof.
  intros A R Hs x y H. induction H as [x | x w y Hxw Hwy IH].
  - apply star_refl.
  - apply star_trans with w; [exact IH | apply star_one; apply Hs; exact Hxw].
Qed.

Lemma in_count_pos : forall (x : nat) (l : list nat), In x l -> 0 < count_nat x l.
Proof.
  intros x l. induction l as [|a l IH]; simpl; intros H.
  - contradiction.
  - destruct H as [H|H].
    + subst a. rewrite Nat.eqb_refl. lia.
    + destruct (Nat.eqb x a); [lia | exact (IH H)].
Qed.

Lemma count_pos_in : forall (x : nat) (l : list nat), 0 < count_nat x l -> In x l.
Proof.
  intros x l. induction l as [|a l IH]; simpl; intros H.
  - lia.
  - destruct (Nat.eqb x a) eqn:E.
    + left. symmetry. apply Nat.eqb_eq. exact E.
    + right. apply IH. exact H.
Qed.

Lemma map_rev_onto : forall (A B : Type) (f : A -> B) (acc l : list A), map f (rev_onto l acc) = rev_onto (map f l) (map f acc).
Proof.
  intros A B f acc l. revert acc. induction l as [|x l IH]; intros acc; simpl.
  - reflexivity.
  - rewrite IH. reflexivity.
Qed.

Lemma len_acc_spec : forall (A : Type) (n : nat) (l : list A), len_acc l n = n + length l.
Proof.
  intros A n l. revert n. induction l as [|x l IH]; intros n; simpl.
  - lia.
  - rewrite IH. lia.
Qed.

Lemma filter_all_true : forall (A : Type) (f : A -> bool) (l : list A), (forall x, In x l -> f x = true) -> filter f l = l.
Proof.
  intros A f l H. induction l as [|a l IH]; simpl.
  - reflexivity.
  - rewrite (H a (or_introl eq_refl)). f_equal. apply IH.
    intros x Hx. apply H. right. exact Hx.
Qed.

Lemma maxl_ge_in : forall (x : nat) (l : list nat), In x l -> x <= maxl l.
Proof.
  intros x l. induction l as [|y l IH]; simpl; intros H.
  - contradiction.
  - destruct H as [H|H].
    + subst y. lia.
    + specialize (IH H). lia.
Qed.

Lemma sum_list_le_len_max : forall l : list nat, sum_list l <= length l * maxl l.
Proof.
  induction l as [|x l IH]; simpl.
  - lia.
  - assert (H : length l * maxl l <= length l * Nat.max x (maxl l)).
    { apply Nat.mul_le_mono_l. lia. }
    lia.
Qed.
